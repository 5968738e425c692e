import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { createLogger } from '@muxly/common';
import { DLQ_HEADERS } from '@muxly/schemas';
import { REGISTRY_URL, requireLocalStack, waitFor } from '../../test/support/services.ts';
import { startTransformer, type TransformerService } from '../src/service.ts';
import { apiEnvelope, collect, connectedProducer, settingsOf, transformerDocument } from './helpers.ts';

let transformer: TransformerService;
const document = transformerDocument();

beforeAll(async () => {
  await requireLocalStack();
  transformer = await startTransformer(
    settingsOf(document),
    createLogger({ service: 'transformer-test', level: 'error' }),
  );
});

afterAll(async () => {
  await transformer?.stop();
});

test('invalid raw records and items are dead-lettered with their bytes and headers; repeated ids are dropped and counted', async () => {
  const rawTopic = `${document.topics.prefix}raw`;
  const producer = await connectedProducer();
  const good = {
    id: 'ok-1',
    name: 'cpu.load',
    value: 0.5,
    timestamp: '2026-05-01T10:00:00Z',
    dimensions: { host: 'a' },
  };
  await producer.send({
    topic: rawTopic,
    acks: -1,
    // One partition, so the offsets in the headers are predictable.
    messages: [
      { partition: 0, value: '{not json' },
      { partition: 0, value: JSON.stringify({ ...apiEnvelope([]), format: 'mystery.v9' }) },
      { partition: 0, value: JSON.stringify(apiEnvelope([good, { id: 'bad-1', name: 'cpu.load', value: 'high' }])) },
      { partition: 0, value: JSON.stringify(apiEnvelope([good])) },
    ],
  });
  await producer.disconnect();

  const events = await collect(`${document.topics.prefix}events`);
  const letters = await collect(`${document.topics.prefix}dlq`);
  try {
    await waitFor(
      'three dead letters and the event',
      async () => letters.records.length >= 3 && events.records.length >= 1,
      30_000,
    );
    const byOffset = new Map(letters.records.map((letter) => [letter.headers[DLQ_HEADERS.originalOffset], letter]));
    const common = {
      [DLQ_HEADERS.originalTopic]: rawTopic,
      [DLQ_HEADERS.originalPartition]: '0',
      [DLQ_HEADERS.stage]: 'transformer',
      [DLQ_HEADERS.errorClass]: 'InvalidEventError',
      [DLQ_HEADERS.attempts]: '1',
    };
    const offsets = [...byOffset.keys()].map(Number).sort((a, b) => a - b);
    const [notJson, unknownFormat, badItem] = offsets.map((offset) => byOffset.get(String(offset))!);
    expect(notJson!.value.toString()).toBe('{not json');
    expect(notJson!.headers).toMatchObject({
      ...common,
      [DLQ_HEADERS.errorMessage]: expect.stringMatching(/^not JSON/),
    });
    expect(unknownFormat!.headers).toMatchObject({
      ...common,
      [DLQ_HEADERS.errorMessage]: 'unknown raw format "mystery.v9"',
    });
    // A bad item of a good envelope goes alone, as its own JSON, with its index.
    expect(JSON.parse(badItem!.value.toString())).toEqual({ id: 'bad-1', name: 'cpu.load', value: 'high' });
    expect(badItem!.headers).toMatchObject({
      ...common,
      'muxly.original.index': '1',
      [DLQ_HEADERS.errorMessage]: expect.stringMatching(/value/),
    });
    for (const letter of [notJson, unknownFormat, badItem])
      expect(Date.parse(letter!.headers[DLQ_HEADERS.firstFailedAt]!)).not.toBeNaN();

    // The event is decodable through the registry; its repeat in the last record was dropped.
    const registry = new SchemaRegistry({ host: REGISTRY_URL });
    expect(await registry.decode(events.records[0]!.value)).toMatchObject({
      id: 'ok-1',
      kind: 'metric',
      name: 'cpu.load',
      value: 0.5,
      dimensions: { host: 'a' },
      source: { type: 'api', id: 'it' },
    });
    const metrics = await waitFor(
      'the duplicate counted',
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${transformer.healthPort}/metrics`)).text();
        return /muxly_transformer_duplicates_dropped_total\{[^}]*\} 1\b/.test(text) && text;
      },
      10_000,
    );
    expect(metrics).toMatch(/muxly_transformer_dead_letters_total\{[^}]*\} 3\b/);
    expect(metrics).toMatch(/muxly_transformer_events_total\{[^}]*\} 1\b/);
    expect(events.records).toHaveLength(1);
  } finally {
    await events.stop();
    await letters.stop();
  }
});

test('a burst of one series (one key, so one partition) larger than a produce request is written whole', async () => {
  // 12 raw records x 1,000 metrics with the same name and dimensions: about 5 MB of events for one
  // partition, several times the topic's 1 MB record batch limit. Long labels make a long key,
  // which is sent with every event (a size estimate without it once made batches the broker refused).
  const rawTopic = `${document.topics.prefix}raw`;
  const producer = await connectedProducer();
  const pad = 'p'.repeat(100);
  const records = Array.from({ length: 12 }, (_, record) => ({
    partition: 0,
    value: JSON.stringify(
      apiEnvelope(
        Array.from({ length: 1_000 }, (_, item) => ({
          id: `burst-${record}-${item}-${'0'.repeat(24)}`,
          name: 'checkout.requests',
          value: item,
          timestamp: '2026-05-01T10:00:00Z',
          dimensions: { region: 'eu-west-1', service: 'checkout', route: '/api/orders/{id}', customer: 'c'.repeat(60) },
          attributes: { pad },
        })),
      ),
    ),
  }));
  for (const record of records) await producer.send({ topic: rawTopic, acks: -1, messages: [record] });
  await producer.disconnect();

  const events = await collect(`${document.topics.prefix}events`);
  try {
    await waitFor(
      '12,000 events',
      async () =>
        events.records.filter((record) => record.headers['muxly.event.id']?.startsWith('burst-')).length >= 12_000,
      60_000,
      500,
    );
    const ids = new Set(
      events.records.map((record) => record.headers['muxly.event.id']).filter((id) => id?.startsWith('burst-')),
    );
    expect(ids.size).toBe(12_000);
  } finally {
    await events.stop();
  }
});
