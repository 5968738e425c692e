// The router's cost per destination for `npm run bench -- router`: the same steady rate of events
// routed by one rule to one file destination, then to ten, each in a fresh router process; the
// router's CPU (cores, from /proc) while it keeps pace, and its peak RSS. The router reads, decodes
// and evaluates each event once however many destinations it serves, so ten should cost little
// more than one.
//   BENCH_ROUTER_RATE (default 2,000 events/s) and BENCH_ROUTER_SECONDS (default 20) set the load.
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createKafka, encodeWireFormat, topicNames } from '@muxly/common';
import { freePort, ServiceProcess } from '../test/support/services.ts';
import { benchDir, cpuProfileEnv, metric300, peakRssMb, sleep, writeSettings } from './lib.ts';
import { createBenchTopics, deleteTopics, quietLogger } from './transformer.bench.ts';

export interface DestinationCostRun {
  destinations: number;
  /** Router CPU in cores (user + system) during the steady part of the load. */
  cores: number;
  peakRssMb: number;
  produced: number;
}

export interface DestinationCostFigures {
  rate: number;
  seconds: number;
  runs: DestinationCostRun[];
  /** Lowest figure of each side (noise on a shared machine only ever adds CPU). */
  oneCores: number;
  tenCores: number;
  ratio: number;
  tenPeakRssMb: number;
}

const log = (line: string) => console.log(`bench: router: ${line}`);
const WARM_UP_SECONDS = 5;
const ticksPerSecond = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

async function deliveredTotals(port: number): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('muxly_router_delivered_total{'))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
}

async function runAtRate(
  base: Record<string, unknown>,
  prefix: string,
  destinations: number,
  rate: number,
  seconds: number,
): Promise<DestinationCostRun> {
  const kafka = createKafka(
    {
      brokers: ['127.0.0.1:9092'],
      clientId: 'bench-router-rate',
      ssl: false,
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 30_000,
    },
    quietLogger,
  );
  await createBenchTopics(kafka, prefix);
  const port = await freePort();
  const files = Array.from({ length: destinations }, (_, index) => join(benchDir, `${prefix}d${index}.jsonl`));
  const ids = files.map((_, index) => `d${index}`);
  const settings = writeSettings(`router-${prefix}`, {
    ...base,
    topics: { prefix, partitions: 3 },
    router: { health: { port }, groupIdPrefix: `${prefix}router.` },
    pipeline: {
      destinations: files.map((path, index) => ({ id: ids[index], type: 'file', config: { path: basename(path) } })),
      rules: [{ id: 'all', destinationIds: ids }],
    },
  });
  const router = new ServiceProcess('router', { MUXLY_CONFIG: settings, ...cpuProfileEnv() }).start();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await router.waitUntilReady(`http://127.0.0.1:${port}/readyz`);
    await producer.connect();
    const pid = router.child!.pid!;
    const started = performance.now();
    let produced = 0;
    let cpuAtWarmUp: { cpu: number; at: number } | undefined;
    const receivedAt = new Date().toISOString();
    while (performance.now() - started < seconds * 1_000) {
      const elapsed = (performance.now() - started) / 1_000;
      if (!cpuAtWarmUp && elapsed >= WARM_UP_SECONDS) cpuAtWarmUp = { cpu: cpuSeconds(pid), at: performance.now() };
      const due = Math.floor(elapsed * rate);
      if (due > produced) {
        const messages = [];
        // At most 1,000 per request (the broker's message size), the rest on the next turn.
        for (const last = Math.min(due, produced + 1_000); produced < last; produced++)
          messages.push({
            key: `series-${produced % 64}`,
            value: encodeWireFormat(1, {
              id: randomUUID(),
              schemaVersion: 1,
              kind: 'metric',
              timestamp: receivedAt,
              receivedAt,
              source: { type: 'api', id: 'bench' },
              ...metric300(produced),
            }),
          });
        await producer.send({ topic: topicNames(prefix).events, messages, acks: -1 });
      }
      if (produced >= due) await sleep(50);
    }
    const cores = (cpuSeconds(pid) - cpuAtWarmUp!.cpu) / ((performance.now() - cpuAtWarmUp!.at) / 1_000);
    // It kept pace: every destination delivered every event shortly after the load ended.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const totals = await deliveredTotals(port);
      if (totals.length === destinations && totals.every((total) => total >= produced)) break;
      if (Date.now() > deadline)
        throw new Error(`router with ${destinations} destinations: delivered ${totals.join(', ')} of ${produced}`);
      await sleep(200);
    }
    return { destinations, cores: Math.round(cores * 1000) / 1000, peakRssMb: peakRssMb(pid), produced };
  } finally {
    await producer.disconnect();
    await router.stop();
    for (const path of files) rmSync(path, { force: true });
    await deleteTopics(prefix);
  }
}

export async function benchDestinationCost(base: Record<string, unknown>): Promise<DestinationCostFigures> {
  const rate = Number(process.env.BENCH_ROUTER_RATE ?? 2_000);
  const seconds = Number(process.env.BENCH_ROUTER_SECONDS ?? 20);
  const runs: DestinationCostRun[] = [];
  // Alternated, so a burst of other work on the machine does not weigh on one side only.
  for (let round = 1; round <= 2; round++) {
    for (const destinations of [1, 10]) {
      const prefix = `bench-router-cost-${randomUUID().slice(0, 8)}.`;
      const run = await runAtRate(base, prefix, destinations, rate, seconds);
      runs.push(run);
      log(
        `${rate} events/s to ${destinations} file destination(s) (run ${round}): ${run.cores} cores, peak RSS ${run.peakRssMb} MB`,
      );
    }
  }
  const cores = (count: number) =>
    Math.min(...runs.filter((run) => run.destinations === count).map((run) => run.cores));
  const oneCores = cores(1);
  const tenCores = cores(10);
  return {
    rate,
    seconds,
    runs,
    oneCores,
    tenCores,
    ratio: Math.round((tenCores / oneCores) * 100) / 100,
    tenPeakRssMb: Math.max(...runs.filter((run) => run.destinations === 10).map((run) => run.peakRssMb)),
  };
}
