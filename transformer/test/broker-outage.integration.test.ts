import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger } from '@muxly/common';
import { startPrivateKafka, type PrivateKafka } from '../../test/support/private-kafka.ts';
import { requireLocalStack, waitFor } from '../../test/support/services.ts';
import { startTransformer, type TransformerService } from '../src/service.ts';
import { apiEnvelope, eventIdOf, settingsOf, transformerDocument, writeMarkers, type Collected } from './helpers.ts';

// NOTE: the outage is real: a PRIVATE broker (own folder and ports, via deploy/local/stack.sh) is
// stopped with SIGTERM and started again under load, so the shared broker stays up for the others.

let privateKafka: PrivateKafka;

beforeAll(async () => {
  await requireLocalStack(); // the schema registry is the shared one
  privateKafka = await startPrivateKafka();
}, 240_000);

afterAll(async () => {
  await privateKafka?.remove();
}, 120_000);

test('after the broker is stopped and started again under load, every raw record is transformed exactly once without restarting the transformer', async () => {
  const kafka = new Kafka({ brokers: [privateKafka.broker], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const document = transformerDocument({ transformer: { sessionTimeoutMs: 10_000, commitTimeoutMs: 10_000 } });
  const settings = settingsOf({ ...document, kafka: { brokers: [privateKafka.broker] } });
  const { prefix } = document.topics;
  const [rawTopic, eventsTopic] = [`${prefix}raw`, `${prefix}events`];
  const transformer: TransformerService = await startTransformer(
    settings,
    createLogger({ service: 'transformer-outage-test', level: 'error' }),
  );

  // Raw records of 20 metrics, about 2,000 metrics/s. Only an acknowledged write counts: a
  // failed one may or may not be in the topic (it is never sent again).
  const acknowledged: string[] = [];
  let failedWrites = 0;
  let writing = true;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const writer = (async () => {
    while (writing) {
      const metrics = Array.from({ length: 20 }, (_, index) => ({
        id: randomUUID(),
        name: `outage.${index % 5}`,
        value: index,
        timestamp: new Date().toISOString(),
      }));
      try {
        await producer.send({ topic: rawTopic, acks: -1, messages: [{ value: JSON.stringify(apiEnvelope(metrics)) }] });
        acknowledged.push(...metrics.map((metric) => metric.id));
      } catch {
        failedWrites += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  const events = await collectWithRetries(kafka, eventsTopic);
  try {
    await waitFor('events before the outage', async () => events.records.length >= 2_000, 60_000);
    await privateKafka.stop();
    await waitFor('writes failing while the broker is down', async () => failedWrites >= 3, 60_000);
    const seenDuringOutage = events.records.length;
    await privateKafka.start();
    const acknowledgedAtRestart = acknowledged.length;
    await waitFor(
      'writes acknowledged again',
      async () => acknowledged.length >= acknowledgedAtRestart + 2_000,
      120_000,
    );
    writing = false;
    await writer;

    const markers = await writeMarkers(producer, rawTopic, settings.topics.partitions);
    await waitFor(
      'every acknowledged metric as an event, and the markers after them',
      async () => {
        const seen = new Set(events.records.map(eventIdOf));
        return acknowledged.every((id) => seen.has(id)) && markers.every((id) => seen.has(id));
      },
      180_000,
      500,
    );
    const counts = new Map<string, number>();
    for (const record of events.records) counts.set(eventIdOf(record)!, (counts.get(eventIdOf(record)!) ?? 0) + 1);
    expect([...counts].filter(([, count]) => count > 1)).toEqual([]);
    expect(events.records.length).toBeGreaterThan(seenDuringOutage);
    const metrics = await (await fetch(`http://127.0.0.1:${transformer.healthPort}/metrics`)).text();
    process.stderr.write(
      `broker outage: ${acknowledged.length} acknowledged metrics, ${failedWrites} failed writes, ${events.records.length} events; ${metrics.match(/^muxly_transformer_recoveries_total.*$/m)?.[0] ?? 'no recoveries metric'}\n`,
    );
  } finally {
    writing = false;
    await writer.catch(() => undefined);
    await producer.disconnect();
    await events.stop();
    await transformer.stop();
  }
}, 420_000);

/** A read_committed reader of the private broker that rejoins by itself after the outage. */
async function collectWithRetries(kafka: Kafka, topic: string) {
  const consumer = kafka.consumer({
    groupId: `reader-${randomUUID()}`,
    retry: { retries: 10, restartOnFailure: async () => true },
  });
  const records: Collected[] = [];
  const positions = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    // NOTE: a reader that restarts after the outage may read a record again (its position was not
    // committed yet): each position counts once, so only the transformer's duplicates show.
    eachMessage: async ({ message, partition }) => {
      const position = `${partition}:${message.offset}`;
      if (positions.has(position)) return;
      positions.add(position);
      records.push({
        value: message.value ?? Buffer.alloc(0),
        headers: { 'muxly.event.id': String(message.headers?.['muxly.event.id'] ?? '') },
        topic,
        partition,
        offset: message.offset,
      });
    },
  });
  return { records, stop: () => consumer.disconnect() };
}
