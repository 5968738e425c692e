import type { KafkaMessage } from 'kafkajs';
import { decodeWireFormat } from '@muxly/common';
import { DLQ_HEADERS } from '@muxly/schemas';
import { DedupWindow } from './dedup.ts';
import { processRawChunk } from './raw.processor.ts';

const source = { topic: 't.raw', partition: 2 };
const options = () => ({
  eventsTopic: 't.events',
  dlqTopic: 't.dlq',
  schemaId: 7,
  dedup: new DedupWindow(100),
  now: () => new Date('2026-01-01T00:00:00Z'),
});
let offset = 0;
const message = (value: unknown): KafkaMessage =>
  ({
    key: null,
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    offset: String(offset++),
    timestamp: '0',
    attributes: 0,
    headers: {},
  }) as KafkaMessage;
const envelope = (payload: unknown, format = 'api.metrics.v1') => ({
  envelopeVersion: 1,
  format,
  source: { type: 'api', id: 'k1' },
  receivedAt: '2026-05-01T10:00:00.000Z',
  payload,
});

test('API metrics become unified events in the Confluent wire format, keyed by series', () => {
  const out = processRawChunk(
    [
      message(
        envelope({
          metrics: [
            {
              id: 'm1',
              name: 'latency',
              value: 12.5,
              unit: 'ms',
              timestamp: '2026-05-01T11:59:59+02:00',
              dimensions: { route: '/a', env: 'prod' },
            },
          ],
        }),
      ),
    ],
    source,
    options(),
  );
  expect(out.counts).toEqual({ events: 1, deadLetters: 0, duplicates: 0 });
  const record = out.records[0]!;
  expect(record.topic).toBe('t.events');
  expect(record.key).toBe('latency|env=prod|route=/a');
  const { schemaId, value } = decodeWireFormat(record.value as Buffer);
  expect(schemaId).toBe(7);
  expect(value).toEqual({
    id: 'm1',
    schemaVersion: 1,
    kind: 'metric',
    name: 'latency',
    timestamp: '2026-05-01T09:59:59.000Z',
    receivedAt: '2026-05-01T10:00:00.000Z',
    source: { type: 'api', id: 'k1' },
    value: 12.5,
    unit: 'ms',
    dimensions: { route: '/a', env: 'prod' },
    attributes: {},
  });
});

test('connector records keep their kind and entity and are keyed by entity', () => {
  const out = processRawChunk(
    [
      message(
        envelope(
          {
            stream: 'contacts',
            records: [
              {
                id: 'hubspot:contacts:1:v3',
                kind: 'record',
                name: 'contact',
                timestamp: '2026-05-01T10:00:00Z',
                entity: { type: 'contact', id: '1' },
                attributes: { email: 'a@b.c' },
              },
            ],
          },
          'connector.records.v1',
        ),
      ),
    ],
    source,
    options(),
  );
  expect(out.counts.events).toBe(1);
  expect(out.records[0]!.key).toBe('api:contact:1');
  expect(decodeWireFormat(out.records[0]!.value as Buffer).value).toMatchObject({
    kind: 'record',
    entity: { type: 'contact', id: '1' },
    attributes: { email: 'a@b.c' },
  });
});

test.each([
  ['not JSON', '{oops', /not JSON/],
  ['an invalid envelope', { envelopeVersion: 2 }, /invalid raw envelope/],
  ['an unknown format', envelope({}, 'mystery.v9'), /unknown raw format "mystery.v9"/],
  ['a payload without metrics', envelope({ rows: [] }), /payload.metrics must be an array/],
])('%s is dead-lettered with its original bytes and the headers', (_case, value, reason) => {
  const input = message(value);
  const out = processRawChunk([input], source, options());
  expect(out.counts).toEqual({ events: 0, deadLetters: 1, duplicates: 0 });
  const letter = out.records[0]!;
  expect(letter.topic).toBe('t.dlq');
  expect(letter.value).toEqual(input.value);
  expect(letter.headers).toMatchObject({
    [DLQ_HEADERS.originalTopic]: 't.raw',
    [DLQ_HEADERS.originalPartition]: '2',
    [DLQ_HEADERS.originalOffset]: input.offset,
    [DLQ_HEADERS.stage]: 'transformer',
    [DLQ_HEADERS.errorClass]: 'InvalidEventError',
    [DLQ_HEADERS.attempts]: '1',
    [DLQ_HEADERS.firstFailedAt]: '2026-01-01T00:00:00.000Z',
  });
  expect(String(letter.headers![DLQ_HEADERS.errorMessage])).toMatch(reason);
});

test('one bad metric is dead-lettered alone; the good ones of the same envelope go through', () => {
  const out = processRawChunk(
    [
      message(
        envelope({
          metrics: [
            { id: 'a', name: 'ok', value: 1, timestamp: '2026-05-01T10:00:00Z' },
            { id: 'b', name: 'bad', value: 'NaN' },
          ],
        }),
      ),
    ],
    source,
    options(),
  );
  expect(out.counts).toEqual({ events: 1, deadLetters: 1, duplicates: 0 });
  const letter = out.records.find((record) => record.topic === 't.dlq')!;
  expect(JSON.parse(String(letter.value))).toEqual({ id: 'b', name: 'bad', value: 'NaN' });
  expect(letter.headers!['muxly.original.index']).toBe('1');
});

test('a repeated id within the window is dropped and counted', () => {
  const opts = options();
  const metric = { id: 'same', name: 'n', value: 1, timestamp: '2026-05-01T10:00:00Z' };
  const first = processRawChunk([message(envelope({ metrics: [metric, metric] }))], source, opts);
  const again = processRawChunk([message(envelope({ metrics: [metric] }))], source, opts);
  expect(first.counts).toEqual({ events: 1, deadLetters: 0, duplicates: 1 });
  expect(again.counts).toEqual({ events: 0, deadLetters: 0, duplicates: 1 });
});

test("another source's event with the same id is not a repeat", () => {
  const opts = options();
  const metric = { id: 'same', name: 'n', value: 1, timestamp: '2026-05-01T10:00:00Z' };
  const mine = processRawChunk([message(envelope({ metrics: [metric] }))], source, opts);
  const theirs = processRawChunk(
    [message({ ...envelope({ metrics: [metric] }), source: { type: 'api', id: 'k2' } })],
    source,
    opts,
  );
  expect(mine.counts).toEqual({ events: 1, deadLetters: 0, duplicates: 0 });
  expect(theirs.counts).toEqual({ events: 1, deadLetters: 0, duplicates: 0 });
  expect(theirs.dedupKeys).toEqual(['api/k2/same']);
});

test('the dedup window is bounded and forgets the oldest ids first', () => {
  const window = new DedupWindow(2);
  window.add('a');
  window.add('b');
  window.add('c');
  expect([window.has('a'), window.has('b'), window.has('c'), window.size]).toEqual([false, true, true, 2]);
  window.remove(['b']);
  expect(window.has('b')).toBe(false);
});

test('the dedup window: an id added again, or removed and added again, stays for a full window', () => {
  const window = new DedupWindow(3);
  for (const id of ['a', 'b', 'a', 'c']) window.add(id);
  // 'a' was added again at the third write: evicting its first slot (the fourth write) keeps it.
  expect(['a', 'b', 'c'].map((id) => window.has(id))).toEqual([true, true, true]);
  window.add('d');
  expect(['a', 'b', 'c', 'd'].map((id) => window.has(id))).toEqual([true, false, true, true]);
  window.remove(['c']);
  window.add('c');
  window.add('e');
  // The slot of the first 'c' was overwritten; the second 'c' is still in the window, 'a' is not.
  expect(['a', 'c', 'd', 'e', 'b'].map((id) => window.has(id))).toEqual([false, true, true, true, false]);
  expect(window.size).toBe(3);
});

test('a dedup window of size 0 remembers nothing', () => {
  const window = new DedupWindow(0);
  window.add('a');
  expect([window.has('a'), window.size]).toEqual([false, 0]);
});

test("the raw record's traceparent goes on to its events and dead letters (tracing off: unchanged)", () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const traced = message(
    envelope({
      metrics: [
        { id: 'tp1', name: 'a', value: 1 },
        { id: 'tp2', name: 'b', value: 'x' },
      ],
    }),
  );
  traced.headers = { traceparent: Buffer.from(traceparent) };
  const untraced = message(envelope({ metrics: [{ id: 'tp3', name: 'c', value: 1 }] }));
  const out = processRawChunk([traced, untraced], source, options());
  expect(out.records.map((record) => [record.topic, record.headers?.traceparent])).toEqual([
    ['t.dlq', traceparent],
    ['t.events', traceparent],
    ['t.events', undefined],
  ]);
});
