import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { freePort, ServiceProcess } from '../test/support/services.ts';
import { benchDir, cpuProfileEnv, metric300, peakRssMb, percentile, postMetrics, sleep, writeSettings } from './lib.ts';
import { deleteTopics } from './transformer.bench.ts';

export interface SustainedStep {
  offeredPerSecond: number;
  acceptedPerSecond: number;
  /** Answers other than 202, by status (or `error:<code>` when the request itself failed). */
  non202: Record<string, number>;
  accepted: number;
  delivered: number;
  lost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  sustained: boolean;
}

export interface SustainedFigures {
  steps: SustainedStep[];
  /** The highest rate with every request answered 202, nothing lost and p99 <= 250 ms (0: none). */
  capacity: number;
  peakRssMb: { ingest: number; transformer: number; router: number };
}

const PER_REQUEST = 50;
const P99_LIMIT_MS = 250;

/**
 * The load a user cares about: metrics POSTed at fixed rates (open loop: a slow answer does not
 * slow the sender) through ingest, the transformer and the router into a file destination, as
 * `npm start` runs them. Each metric carries its send time; the file is read as it grows, and
 * each accepted metric's latency is from its send to its line in the file (read every 10 ms).
 * A rate is sustained when every request got 202, every accepted metric arrived (within 30 s
 * after the step) and p99 <= 250 ms. The ladder stops after the first rate that is not.
 */
export async function benchSustained(
  base: Record<string, unknown>,
  options: { rates: number[]; seconds: number; warmupSeconds: number },
): Promise<SustainedFigures> {
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const ports = { ingest: await freePort(), transformer: await freePort(), router: await freePort() };
  const eventsFile = join(benchDir, `sustained-${prefix}jsonl`);
  const file = writeSettings(`sustained-${prefix}`, {
    ...base,
    topics: { prefix, partitions: 3 },
    ingest: { ...(base.ingest as object), http: { port: ports.ingest } },
    transformer: {
      health: { port: ports.transformer },
      groupId: `${prefix}transformer`,
      instanceId: 'bench-sustained',
    },
    router: { health: { port: ports.router }, groupIdPrefix: `${prefix}router.` },
    pipeline: {
      destinations: [{ id: 'file', type: 'file', config: { path: basename(eventsFile), rotateBytes: 0 } }],
      rules: [{ id: 'all', destinationIds: ['file'] }],
    },
  });
  const profile = cpuProfileEnv();
  const services = {
    ingest: new ServiceProcess('ingest', { MUXLY_CONFIG: file, ...profile }).start(),
    transformer: new ServiceProcess('transformer', { MUXLY_CONFIG: file, ...profile }).start(),
    router: new ServiceProcess('router', { MUXLY_CONFIG: file, ...profile }).start(),
  };
  const arrivals = new FileArrivals(eventsFile);
  try {
    await Promise.all(
      (['ingest', 'transformer', 'router'] as const).map((name) =>
        services[name].waitUntilReady(`http://127.0.0.1:${ports[name]}/readyz`),
      ),
    );
    const url = `http://127.0.0.1:${ports.ingest}/v1/metrics`;
    // Warm-up: JIT, connections, producer metadata, the consumer groups' first assignment.
    const warm = await offer(url, options.rates[0]!, options.warmupSeconds, 'warmup');
    await waitForDelivery(arrivals, warm.acceptedIds, 60_000);

    const steps: SustainedStep[] = [];
    for (const rate of options.rates) {
      const run = await offer(url, rate, options.seconds, `r${rate}`);
      await waitForDelivery(arrivals, run.acceptedIds, 30_000);
      const latencies: number[] = [];
      let delivered = 0;
      for (const id of run.acceptedIds) {
        const arrived = arrivals.latencyMs.get(id);
        if (arrived === undefined) continue;
        delivered += 1;
        latencies.push(arrived);
      }
      latencies.sort((a, b) => a - b);
      const step: SustainedStep = {
        offeredPerSecond: rate,
        acceptedPerSecond: Math.round(run.acceptedIds.length / run.seconds),
        non202: run.non202,
        accepted: run.acceptedIds.length,
        delivered,
        lost: run.acceptedIds.length - delivered,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies[latencies.length - 1] ?? NaN,
        sustained: false,
      };
      step.sustained =
        Object.keys(step.non202).length === 0 && step.lost === 0 && step.accepted > 0 && step.p99Ms <= P99_LIMIT_MS;
      steps.push(step);
      console.log(`bench: sustained ${formatStep(step)}`);
      if (!step.sustained) break;
    }
    const capacity = Math.max(0, ...steps.filter((step) => step.sustained).map((step) => step.offeredPerSecond));
    return {
      steps,
      capacity,
      peakRssMb: {
        ingest: peakRssMb(services.ingest.child!.pid!),
        transformer: peakRssMb(services.transformer.child!.pid!),
        router: peakRssMb(services.router.child!.pid!),
      },
    };
  } finally {
    arrivals.stop();
    await Promise.all(Object.values(services).map((service) => service.stop()));
    await deleteTopics(prefix);
  }
}

export function formatStep(step: SustainedStep): string {
  const refused = Object.entries(step.non202)
    .map(([status, count]) => `${status} x${count}`)
    .join(', ');
  return `${step.offeredPerSecond.toLocaleString('en')}/s offered, ${step.acceptedPerSecond.toLocaleString('en')}/s accepted, non-202 ${refused || 'none'}, delivered ${step.delivered}/${step.accepted}, lost ${step.lost}, send->file p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms, max ${step.maxMs} ms${step.sustained ? '' : ' (not sustained)'}`;
}

/** Posts `rate` metrics/s for `seconds` on a 10 ms schedule; waits for every answer. */
async function offer(url: string, rate: number, seconds: number, tag: string) {
  const acceptedIds: string[] = [];
  const non202: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  const requestsPerTick = rate / PER_REQUEST / 100;
  let sequence = 0;
  const send = () => {
    const sentAt = Date.now();
    const ids = Array.from({ length: PER_REQUEST }, (_, index) => `${tag}-${sequence}-${index}`);
    sequence += 1;
    const body = requestBody(ids, sentAt);
    const request = postMetrics(url, body)
      .then(({ status }) => {
        if (status === 202) acceptedIds.push(...ids);
        else non202[String(status)] = (non202[String(status)] ?? 0) + 1;
      })
      .catch((error: unknown) => {
        const key = `error:${(error as { code?: string }).code ?? (error as Error).name}`;
        non202[key] = (non202[key] ?? 0) + 1;
      })
      .finally(() => pending.delete(request));
    pending.add(request);
  };
  const started = performance.now();
  let sent = 0;
  for (let tick = 0; ; tick++) {
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed >= seconds) break;
    // Catch up on ticks a busy event loop delayed, so the offered rate holds.
    const due = Math.floor((elapsed * 100 + 1) * requestsPerTick) - sent;
    for (let index = 0; index < due; index++) send();
    sent += Math.max(0, due);
    await sleep(Math.max(0, started + (tick + 1) * 10 - performance.now()));
  }
  await Promise.all(pending);
  return { acceptedIds, non202, seconds };
}

/**
 * The JSON of `{ metrics: [{ ...metric300(index, { sentAt }), id }] }`, from templates made once.
 * NOTE (cost): the bench shares the two cores with the pipeline it measures. Building each body
 * with JSON.stringify (three per metric, with metric300's padding) and reading each line with
 * JSON.parse cost it 0.04 of a core at 20,000 metrics/s (0.29 before these two changes, 0.25 after).
 */
const templates = Array.from({ length: PER_REQUEST }, (_, index) => {
  const placeholder = 1_796_000_000_000; // 13 digits, as every send time until 2286
  const json = JSON.stringify({ ...metric300(index, { sentAt: placeholder }), id: '' });
  const [head, tail] = json.split(String(placeholder)) as [string, string];
  return { head, middle: tail.slice(0, -2), end: '"}' };
});

function requestBody(ids: string[], sentAt: number): string {
  let body = '{"metrics":[';
  for (let index = 0; index < ids.length; index++) {
    const template = templates[index]!;
    body += `${index > 0 ? ',' : ''}${template.head}${sentAt}${template.middle}${ids[index]}${template.end}`;
  }
  return `${body}]}`;
}

async function waitForDelivery(arrivals: FileArrivals, ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && ids.some((id) => !arrivals.latencyMs.has(id))) await sleep(200);
}

/** Reads the destination file as it grows; remembers each event id's send-to-file latency. */
class FileArrivals {
  readonly latencyMs = new Map<string, number>();
  readonly #path: string;
  readonly #timer: NodeJS.Timeout;
  #position = 0;
  #partial = '';
  readonly #buffer = Buffer.alloc(4 * 1024 * 1024);

  constructor(path: string) {
    this.#path = path;
    this.#timer = setInterval(() => this.#read(), 10);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #read(): void {
    if (!existsSync(this.#path)) return;
    const now = Date.now();
    const fd = openSync(this.#path, 'r');
    try {
      for (;;) {
        const bytes = readSync(fd, this.#buffer, 0, this.#buffer.length, this.#position);
        if (bytes === 0) break;
        this.#position += bytes;
        const lines = (this.#partial + this.#buffer.toString('utf8', 0, bytes)).split('\n');
        this.#partial = lines.pop() ?? '';
        for (const line of lines) {
          if (!line) continue;
          const { id, sentAt } = idAndSentAt(line);
          if (sentAt !== undefined && !this.latencyMs.has(id)) this.latencyMs.set(id, now - sentAt);
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * An event line's id and `attributes.sentAt`. NOTE (cost): read by position in the line the
 * router writes (`{"id":"...` first, one `"sentAt":` number) rather than with JSON.parse (see
 * the templates above for what that saved); any other shape is parsed in full.
 */
export function idAndSentAt(line: string): { id: string; sentAt: number | undefined } {
  const idEnd = line.indexOf('"', 7);
  const at = line.indexOf('"sentAt":');
  if (line.startsWith('{"id":"') && idEnd > 7 && at > 0 && line.indexOf('"sentAt":', at + 1) < 0) {
    const sentAt = Number.parseInt(line.slice(at + 9, at + 9 + 16), 10);
    if (Number.isFinite(sentAt)) return { id: line.slice(7, idEnd), sentAt };
  }
  const event = JSON.parse(line) as { id: string; attributes?: { sentAt?: unknown } };
  const sentAt = event.attributes?.sentAt;
  return { id: event.id, sentAt: typeof sentAt === 'number' ? sentAt : undefined };
}
