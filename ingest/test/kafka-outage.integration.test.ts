import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { startPrivateKafka, type PrivateKafka } from '../../test/support/private-kafka.ts';
import { waitFor } from '../../test/support/services.ts';
import { collectTopic, ingestSettings, post, startTestIngest } from './api-helpers.ts';

// NOTE: the outage is real: a broker process is stopped and started again under load. It is a
// PRIVATE broker (own folder, own ports, started by the local stack's own script) rather than the
// shared one, so the other tests keep theirs, and the test works whoever started the shared stack.

let privateKafka: PrivateKafka;
let broker = '';

beforeAll(async () => {
  privateKafka = await startPrivateKafka();
  broker = privateKafka.broker;
}, 240_000);

afterAll(async () => {
  await privateKafka?.remove();
}, 120_000);

interface Outcome {
  ids: string[];
  status: number | 'connection error';
  retryAfter: string | null;
  type?: string;
  /** When the answer came (epoch ms), to place it before, during or after the outage. */
  answeredAt: number;
  ms: number;
}

/** Batches of 5 metrics with client ids, sent in a loop by `concurrency` workers. */
function startLoad(url: string, concurrency: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  const worker = async () => {
    while (running) {
      const ids = Array.from({ length: 5 }, () => randomUUID());
      const started = Date.now();
      try {
        const response = await post(
          url,
          JSON.stringify({ metrics: ids.map((id, index) => ({ id, name: 'outage.load', value: index })) }),
        );
        const body = (await response.json()) as { ids?: string[]; type?: string };
        if (response.status === 202) expect(body.ids).toEqual(ids);
        outcomes.push({
          ids,
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          type: body.type,
          answeredAt: Date.now(),
          ms: Date.now() - started,
        });
      } catch {
        outcomes.push({
          ids,
          status: 'connection error',
          retryAfter: null,
          answeredAt: Date.now(),
          ms: Date.now() - started,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    outcomes,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

test('with the broker stopped during a load, clients see 202 only for metrics that arrive and 503 with Retry-After otherwise; nothing acknowledged is lost', async () => {
  // A small in-flight cap so the outage also shows the immediate 503 of a full backlog.
  const settings = ingestSettings({ brokers: [broker], ingest: { sendTimeoutMs: 2_000, maxInFlightSends: 8 } });
  const ingest = await startTestIngest(settings, { silent: true });
  const load = startLoad(ingest.url, 4);
  let lateIngest: Promise<Awaited<ReturnType<typeof startTestIngest>>> | undefined;
  try {
    await waitFor(
      'accepted requests before the outage',
      async () => load.outcomes.filter((o) => o.status === 202).length >= 20,
      15_000,
    );

    const stoppedAt = Date.now();
    await privateKafka.stop();
    const stopMs = Date.now() - stoppedAt;
    await waitFor(
      '503 answers while Kafka is down',
      async () => load.outcomes.filter((o) => o.status === 503).length >= 8,
      15_000,
    );
    // Beyond the in-flight cap a request is refused at once instead of waiting for the broker.
    const burst = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const response = await post(ingest.url, JSON.stringify({ name: 'outage.burst', value: 1 }));
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          type: ((await response.json()) as { type?: string }).type,
        };
      }),
    );
    const refusedAtOnce = burst.filter((answer) => answer.type === 'https://muxly.dev/problems/kafka-backlog');
    // How fast they are refused is measured by the benchmark; here: that they are refused.
    expect(refusedAtOnce.length).toBeGreaterThan(0);
    expect(new Set(burst.map((answer) => answer.status))).toEqual(new Set([503]));
    for (const answer of burst) expect(answer.retryAfter).toMatch(/^\d+$/);

    // An ingest started while the broker is away waits for it instead of failing its start.
    lateIngest = startTestIngest(ingestSettings({ brokers: [broker], ingest: { kafkaStartTimeoutMs: 60_000 } }), {
      silent: true,
    });

    const startingAt = Date.now();
    await privateKafka.start();
    const startedAt = Date.now();
    const outageMs = Date.now() - stoppedAt;
    const startMs = Date.now() - startingAt;
    await waitFor(
      '202 answers after Kafka is back',
      async () => load.outcomes.slice(-4).every((o) => o.status === 202) && load.outcomes.slice(-4).length === 4,
      60_000,
      250,
    );
    await load.stop();
    process.stderr.write(
      `kafka outage: ${outageMs} ms (stop ${stopMs} ms, start ${startMs} ms); answers: ${JSON.stringify(countBy(load.outcomes.map((o) => String(o.status))))}\n`,
    );

    const late = await lateIngest;
    expect((await post(late.url, JSON.stringify({ name: 'late.start', value: 1 }))).status).toBe(202);
    await late.stop();

    // Only 202 and 503 (always with Retry-After); never a connection error or another status.
    expect(new Set(load.outcomes.map((o) => o.status))).toEqual(new Set([202, 503]));
    for (const outcome of load.outcomes.filter((o) => o.status === 503)) expect(outcome.retryAfter).toMatch(/^\d+$/);

    // Every acknowledged metric is in the raw topic. (A 503'd one may be there too: a timed-out
    // send can still complete; the client's retry with the same id is deduplicated downstream.)
    await expectEveryAcknowledgedMetricIn(`${settings.topics.prefix}raw`, load.outcomes, {
      stoppedAt,
      startingAt,
      startedAt,
    });
  } finally {
    await load.stop();
    await ingest.stop();
    await lateIngest?.then((late) => late.stop()).catch(() => undefined);
  }
}, 180_000);

/**
 * Waits until a fresh reader has seen every id answered 202. When it has not, the failure says
 * whether the records are missing from the broker (a loss: the high watermarks count fewer
 * records than acknowledged requests, each request being one record) or the reader fell behind
 * (its positions short of the high watermarks), with the missing ids placed in the outage.
 */
async function expectEveryAcknowledgedMetricIn(
  topic: string,
  outcomes: Outcome[],
  outage: { stoppedAt: number; startingAt: number; startedAt: number },
): Promise<void> {
  const acknowledged = outcomes.filter((o) => o.status === 202);
  const refused = outcomes.filter((o) => o.status !== 202);
  const kafka = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const highWatermarks = async () =>
    new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)] as const));
  const raw = await collectTopic(topic, broker);
  const idsIn = () =>
    new Set(
      raw.values.flatMap((value) =>
        (JSON.parse(value) as { payload: { metrics: { id: string }[] } }).payload.metrics.map((metric) => metric.id),
      ),
    );
  try {
    await waitFor(
      'every acknowledged metric in the raw topic',
      async () => {
        const seen = idsIn();
        return acknowledged.every((o) => o.ids.every((id) => seen.has(id)));
      },
      60_000,
      500,
    ).catch(async (error: Error) => {
      const seen = idsIn();
      const missing = acknowledged.filter((o) => o.ids.some((id) => !seen.has(id)));
      const watermarks = await highWatermarks();
      const recordsOnBroker = [...watermarks.values()].reduce((sum, high) => sum + high, 0n);
      const phase = (at: number) =>
        at < outage.stoppedAt
          ? 'before the stop'
          : at < outage.startingAt
            ? 'while stopped'
            : at < outage.startedAt
              ? 'while starting'
              : 'after the restart';
      const report = [
        error.message,
        `${missing.length} of ${acknowledged.length} acknowledged requests (${missing.flatMap((o) => o.ids).filter((id) => !seen.has(id)).length} metrics) not read;`,
        `the broker holds ${recordsOnBroker} records for ${acknowledged.length} acknowledged requests${recordsOnBroker < BigInt(acknowledged.length) ? ': RECORDS ARE LOST' : ''};`,
        `reader at ${[...watermarks].map(([partition, high]) => `p${partition} ${raw.positions.get(partition) ?? 0n}/${high}`).join(', ')} (position/high watermark), ${raw.values.length} records read;`,
        `refused requests found in the topic: ${refused.filter((o) => o.ids.some((id) => seen.has(id))).length} of ${refused.length};`,
        `missing requests answered: ${missing
          .slice(0, 10)
          .map(
            (o) =>
              `${o.ids[0]} ${phase(o.answeredAt)} (${o.answeredAt - outage.stoppedAt} ms after the stop, took ${o.ms} ms)`,
          )
          .join('; ')}`,
        `reader events: ${raw.events.slice(-20).join(' | ') || 'none'}`,
      ].join('\n');
      throw new Error(report);
    });
  } finally {
    await raw.stop();
    await admin.disconnect();
  }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
