// `npm run bench` (scripts/bench.sh): ingest and transformer figures on this machine, compared
// with the targets of docs/performance.md and with a bare node:http + Kafka "speed of light" reference
// measured in the same run, then the router's (bench/router.bench.ts). Prints a table;
// writes .local/bench-results.json. `npm run bench -- router` runs only the router's.
//   BENCH_SECONDS (default 10) sets each wrk run's length.
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { freePort, ROOT, ServiceProcess, waitFor } from '../test/support/services.ts';
import { benchClients, printClientFigures } from './kafka-clients.bench.ts';
import { benchLatency, formatLatency } from './latency.bench.ts';
import { benchRouter, printRows } from './router.bench.ts';
import { benchSustained, formatStep } from './sustained.bench.ts';
import { apiKeyHash, benchDir, metric300, peakRssMb, sleep, wrk, writeSettings, type WrkResult } from './lib.ts';
import { benchTransformer, deleteTopics, type TransformerFigures } from './transformer.bench.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const base = {
  log: { level: 'warn' },
  // File destinations write under this folder; their paths are relative to it.
  outbound: { fileBaseDirectory: benchDir },
  kafka: { brokers: ['127.0.0.1:9092'] },
  // Benchmark load is one client: no rate limit, and room for every connection's request.
  ingest: {
    apiKeys: [{ id: 'bench', hash: apiKeyHash() }],
    rateLimit: { requestsPerSecond: 0, burst: 1 },
    maxInFlightSends: 10_000,
  },
};
const batchBody = JSON.stringify({ metrics: Array.from({ length: 50 }, (_, index) => metric300(index)) });
const singleBody = JSON.stringify(metric300());
const log = (line: string) => console.log(`bench: ${line}`);

async function startReference(topic: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [`${ROOT}/bench/reference-server.ts`, String(port), topic], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await waitFor(
    'the reference server',
    async () => (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' })).status === 202,
    30_000,
  );
  return {
    url: `http://127.0.0.1:${port}/v1/metrics`,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

async function benchHttp() {
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const port = await freePort();
  const file = writeSettings(`ingest-${prefix}`, {
    ...base,
    topics: { prefix, partitions: 3 },
    ingest: { ...base.ingest, http: { port } },
  });
  const ingest = new ServiceProcess('ingest', { MUXLY_CONFIG: file }).start();
  await ingest.waitUntilReady(`http://127.0.0.1:${port}/readyz`);
  // ingest created the topics; the reference writes next to them with the same settings.
  const reference = await startReference(`${prefix}raw`);
  const ingestUrl = `http://127.0.0.1:${port}/v1/metrics`;
  const load = { connections: 64, threads: 2, seconds };
  const results: Record<string, WrkResult> = {};
  try {
    for (const [name, url, body] of [
      ['reference batched', reference.url, batchBody],
      ['ingest batched', ingestUrl, batchBody],
      ['reference single', reference.url, singleBody],
      ['ingest single', ingestUrl, singleBody],
    ] as const) {
      await wrk(url, body, { ...load, seconds: 3 }); // warm-up: JIT, connections, producer metadata
      await sleep(1_000);
      results[name] = await wrk(url, body, load);
      log(
        `${name}: ${Math.round(results[name].requestsPerSecond)} requests/s, p50 ${results[name].p50Ms} ms, p99 ${results[name].p99Ms} ms, non-2xx ${results[name].non2xx} ${results[name].socketErrors}`,
      );
    }
    return { results, ingestPeakRssMb: peakRssMb(ingest.child!.pid!), referencePeakRssMb: peakRssMb(reference.pid) };
  } finally {
    await reference.stop();
    await ingest.stop();
    await deleteTopics(prefix);
  }
}

const started = Date.now();
log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GB; Node ${process.version}; ${seconds} s per wrk run, 64 connections`,
);
if (process.argv[2] === 'clients') {
  printClientFigures(await benchClients());
  console.log(`\nwhole run ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(0);
}
if (process.argv[2] === 'router') {
  printRows((await benchRouter(base)).rows);
  console.log(`\nwhole run ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(0);
}
async function benchTransformerShapes() {
  const describe = (figures: TransformerFigures) =>
    `${figures.eventsPerSecond} events/s, ${figures.cpuMicrosPerEvent} us of CPU per event, peak RSS ${figures.peakRssMb} MB`;
  const batched = await benchTransformer(base, 4_000, 50);
  log(`transformer (${batched.shape}): ${describe(batched)}`);
  const single = await benchTransformer(base, 30_000, 1);
  log(`transformer (${single.shape}): ${describe(single)}`);
  // Two instances in one consumer group on the same machine: what scaling out adds when the
  // broker and both instances share the cores.
  const twoInstances = await benchTransformer(base, 4_000, 50, 2);
  log(`transformer, 2 instances (${twoInstances.shape}): ${describe(twoInstances)}`);
  return { batched, single, twoInstances };
}
// BENCH_RATES (e.g. `2500,5000`) runs other rungs, to look at one rate without the whole ladder.
const ladderRates = process.env.BENCH_RATES?.split(',').map(Number) ?? [2_500, 5_000, 10_000, 20_000, 30_000];
if (ladderRates.some((rate) => !Number.isInteger(rate) || rate < 100))
  throw new Error(`BENCH_RATES: ${process.env.BENCH_RATES}`);
const ladder = { rates: ladderRates, seconds: Number(process.env.BENCH_LADDER_SECONDS ?? 20), warmupSeconds: 5 };
if (process.argv[2] === 'sustained') {
  const sustained = await benchSustained(base, ladder);
  for (const step of sustained.steps) console.log(`| ${formatStep(step)} |`);
  console.log(
    `sustained capacity: ${sustained.capacity.toLocaleString('en')} metrics/s (target >= 20,000); peak RSS ingest ${sustained.peakRssMb.ingest} MB, transformer ${sustained.peakRssMb.transformer} MB, router ${sustained.peakRssMb.router} MB`,
  );
  console.log(`\nwhole run ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(0);
}
if (process.argv[2] === 'latency') {
  // BENCH_LATENCY_RATE and BENCH_LATENCY_PER_REQUEST look at another load (default 5,000/s, 10 per request).
  const latency = await benchLatency(base, {
    metricsPerSecond: Number(process.env.BENCH_LATENCY_RATE ?? 5_000),
    perRequest: Number(process.env.BENCH_LATENCY_PER_REQUEST ?? 10),
    seconds,
  });
  log(formatLatency(latency));
  process.exit(0);
}
if (process.argv[2] === 'transformer') {
  await benchTransformerShapes();
  console.log(`\nwhole run ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(0);
}
const http = await benchHttp();
const { batched: transformerBatched, single: transformerSingle } = await benchTransformerShapes();
const latency = await benchLatency(base, { metricsPerSecond: 5_000, perRequest: 10, seconds: 15 });
log(formatLatency(latency));
const sustained = await benchSustained(base, ladder);
const router = await benchRouter(base);

const r = http.results;
const batchedMetrics = (name: string) => Math.round(r[name]!.requestsPerSecond * 50);
const rows: [string, string, string, boolean][] = [
  [
    'batched ingest (50/request)',
    `${batchedMetrics('ingest batched')} metrics/s = ${pct(batchedMetrics('ingest batched'), batchedMetrics('reference batched'))} of reference (${batchedMetrics('reference batched')})`,
    '>= 60,000 and >= 70%',
    batchedMetrics('ingest batched') >= 60_000 &&
      batchedMetrics('ingest batched') >= 0.7 * batchedMetrics('reference batched'),
  ],
  [
    'single-metric ingest',
    `${Math.round(r['ingest single']!.requestsPerSecond)} req/s = ${pct(r['ingest single']!.requestsPerSecond, r['reference single']!.requestsPerSecond)} of reference (${Math.round(r['reference single']!.requestsPerSecond)}); p99 ${r['ingest single']!.p99Ms} ms`,
    '>= 80%, p99 <= 30 ms',
    r['ingest single']!.requestsPerSecond >= 0.8 * r['reference single']!.requestsPerSecond &&
      r['ingest single']!.p99Ms <= 30,
  ],
  [
    'transformer alone (transactional)',
    `${transformerBatched.eventsPerSecond} events/s (50 per raw record); ${transformerSingle.eventsPerSecond} (1 per record)`,
    '>= 40,000 events/s',
    transformerBatched.eventsPerSecond >= 40_000,
  ],
  [
    'ingest -> muxly.events at 5,000 metrics/s',
    `p99 ${latency.p99Ms} ms (p50 ${latency.p50Ms}); non-202: ${Object.values(latency.non202).reduce((sum, count) => sum + count, 0)}`,
    'p99 <= 50 ms, every request 202',
    latency.p99Ms <= 50 && Object.keys(latency.non202).length === 0,
  ],
  [
    'sustained capacity (POST -> file, 50 per request)',
    `${sustained.capacity.toLocaleString('en')} metrics/s (${sustained.steps.map((step) => `${step.offeredPerSecond / 1000}k: ${step.sustained ? 'ok' : `p99 ${step.p99Ms} ms, lost ${step.lost}, non-202 ${JSON.stringify(step.non202)}`}`).join('; ')}); reference batched ingest alone ${batchedMetrics('reference batched')} metrics/s`,
    '>= 20,000, p99 <= 250 ms',
    sustained.capacity >= 20_000,
  ],
  [
    'peak RSS ingest',
    `${Math.max(http.ingestPeakRssMb, latency.ingestPeakRssMb)} MB (wrk load ${http.ingestPeakRssMb}, 5k/s ${latency.ingestPeakRssMb})`,
    '<= 200 MB',
    Math.max(http.ingestPeakRssMb, latency.ingestPeakRssMb) <= 200,
  ],
  [
    'peak RSS transformer',
    `${Math.max(transformerBatched.peakRssMb, transformerSingle.peakRssMb, latency.transformerPeakRssMb)} MB (drain ${transformerBatched.peakRssMb}/${transformerSingle.peakRssMb}, 5k/s ${latency.transformerPeakRssMb})`,
    '<= 200 MB',
    Math.max(transformerBatched.peakRssMb, transformerSingle.peakRssMb, latency.transformerPeakRssMb) <= 200,
  ],
  ...router.rows,
];
console.log('\n| measure | measured | target | met |\n| --- | --- | --- | --- |');
for (const [measure, measured, target, met] of rows)
  console.log(`| ${measure} | ${measured} | ${target} | ${met ? 'yes' : 'NO'} |`);
console.log(
  `\nreference peak RSS ${http.referencePeakRssMb} MB; whole run ${Math.round((Date.now() - started) / 1000)} s`,
);

mkdirSync(`${ROOT}/.local`, { recursive: true });
writeFileSync(
  `${ROOT}/.local/bench-results.json`,
  JSON.stringify(
    { at: new Date().toISOString(), seconds, http, transformerBatched, transformerSingle, latency, sustained, router },
    null,
    2,
  ),
);
process.exit(0);

function pct(value: number, of: number): string {
  return `${Math.round((value / of) * 100)}%`;
}
