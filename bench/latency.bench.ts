import { randomUUID } from 'node:crypto';
import { createKafka, decodeWireFormat } from '@muxly/common';
import { freePort, ServiceProcess } from '../test/support/services.ts';
import { metric300, peakRssMb, percentile, postMetrics, sleep, writeSettings } from './lib.ts';
import { deleteTopics, quietLogger } from './transformer.bench.ts';

export interface LatencyFigures {
  metricsPerSecond: number;
  requestShape: string;
  measured: number;
  lost: number;
  /** Answers other than 202 by status and problem type (`503 kafka-unavailable`), or `error:<code>` when the request failed. */
  non202: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ingestPeakRssMb: number;
  transformerPeakRssMb: number;
}

/**
 * Ingest-to-`muxly.events` latency at a steady rate: requests of `perRequest` metrics are sent on
 * a fixed schedule (open loop: a slow answer does not slow the sender), each metric carrying its
 * send time; a read_committed consumer of the events topic measures when each one arrives.
 */
export async function benchLatency(
  base: Record<string, unknown>,
  options: { metricsPerSecond: number; perRequest: number; seconds: number },
): Promise<LatencyFigures> {
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const ports = { ingest: await freePort(), transformer: await freePort() };
  const file = writeSettings(`latency-${prefix}`, {
    ...base,
    topics: { prefix, partitions: 3 },
    transformer: { health: { port: ports.transformer }, groupId: `${prefix}transformer`, instanceId: 'bench-latency' },
    ingest: { ...(base.ingest as object), http: { port: ports.ingest } },
  });
  const ingest = new ServiceProcess('ingest', { MUXLY_CONFIG: file }).start();
  await ingest.waitUntilReady(`http://127.0.0.1:${ports.ingest}/readyz`);
  const transformer = new ServiceProcess('transformer', { MUXLY_CONFIG: file }).start();
  await transformer.waitUntilReady(`http://127.0.0.1:${ports.transformer}/readyz`);

  const kafka = createKafka(
    {
      brokers: ['127.0.0.1:9092'],
      clientId: 'bench-latency',
      ssl: false,
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 30_000,
    },
    quietLogger,
  );
  const consumer = kafka.consumer({ groupId: `${prefix}reader`, readUncommitted: false, maxWaitTimeInMs: 100 });
  const latencies: number[] = [];
  let measureFrom = Number.POSITIVE_INFINITY;
  await consumer.connect();
  await consumer.subscribe({ topic: `${prefix}events`, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const message of batch.messages) {
        const sentAt = (decodeWireFormat(message.value!).value as { attributes: { sentAt: number } }).attributes.sentAt;
        if (sentAt >= measureFrom) latencies.push(now - sentAt);
      }
    },
  });

  const url = `http://127.0.0.1:${ports.ingest}/v1/metrics`;
  const requestsPerTick = options.metricsPerSecond / options.perRequest / 100; // a tick every 10 ms
  let sentMeasured = 0;
  const non202: Record<string, number> = {};
  const count = (key: string) => void (non202[key] = (non202[key] ?? 0) + 1);
  const pending = new Set<Promise<void>>();
  const send = (measured: boolean) => {
    const sentAt = Date.now();
    const metrics = Array.from({ length: options.perRequest }, (_, index) => metric300(index, { sentAt }));
    const request = postMetrics(url, JSON.stringify({ metrics }))
      .then(({ status, text }) => {
        if (status === 202) {
          if (measured) sentMeasured += options.perRequest;
          return;
        }
        const type = /"type":"[^"]*\/([^"/]+)"/.exec(text)?.[1];
        count(type ? `${status} ${type}` : String(status));
      })
      .catch((error: unknown) => count(`error:${(error as { code?: string }).code ?? (error as Error).name}`))
      .finally(() => pending.delete(request));
    pending.add(request);
  };
  const warmupSeconds = 3;
  const started = performance.now();
  let owed = 0;
  for (let tick = 0; ; tick++) {
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed >= warmupSeconds + options.seconds) break;
    const measuring = elapsed >= warmupSeconds;
    if (measuring && measureFrom === Number.POSITIVE_INFINITY) measureFrom = Date.now();
    // Catch up on ticks a busy event loop delayed, so the rate holds.
    const due = Math.floor((elapsed * 100 + 1) * requestsPerTick) - owed;
    for (let i = 0; i < due; i++) send(measuring);
    owed += due;
    await sleep(Math.max(0, started + (tick + 1) * 10 - performance.now()));
  }
  await Promise.all(pending);
  const deadline = Date.now() + 15_000;
  while (latencies.length < sentMeasured && Date.now() < deadline) await sleep(100);
  await consumer.disconnect();

  const sorted = latencies.sort((a, b) => a - b);
  const figures: LatencyFigures = {
    metricsPerSecond: options.metricsPerSecond,
    requestShape: `${options.metricsPerSecond / options.perRequest} requests/s of ${options.perRequest} metrics`,
    measured: sorted.length,
    lost: Math.max(0, sentMeasured - sorted.length),
    non202,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    ingestPeakRssMb: peakRssMb(ingest.child!.pid!),
    transformerPeakRssMb: peakRssMb(transformer.child!.pid!),
  };
  await Promise.all([ingest.stop(), transformer.stop()]);
  await deleteTopics(prefix);
  return figures;
}

export function formatLatency(latency: LatencyFigures): string {
  const refused = Object.entries(latency.non202)
    .map(([key, count]) => `${count} ${key}`)
    .join(', ');
  return `ingest -> events at ${latency.requestShape}: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms (${latency.measured} events, lost ${latency.lost}, non-202 ${refused || 'none'}); peak RSS ingest ${latency.ingestPeakRssMb} MB, transformer ${latency.transformerPeakRssMb} MB`;
}
