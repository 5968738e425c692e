import { createLogger, type KafkaProducer, type OutgoingRecord } from '@muxly/common';
import { Registry } from 'prom-client';
import { LiveReports, ReportJson, type LiveReport } from './live-reports.ts';

const at = '2026-12-07T09:00:00.000Z';

/** As Delivery makes them: every key present, absent values undefined. */
const report = (fields: Partial<LiveReport> = {}): LiveReport => ({
  destinationId: 'd0',
  outcome: 'delivered',
  eventId: undefined,
  ruleId: undefined,
  error: undefined,
  attempts: undefined,
  ...fields,
});

test.each([
  ['delivered', report({ eventId: 'e-1', ruleId: 'all', attempts: 1 })],
  ['no event id', report({ outcome: 'dead-lettered', ruleId: 'all', error: 'bad bytes', attempts: 1 })],
  ['nothing optional', report({ outcome: 'skipped' })],
  [
    'text that needs escaping',
    report({
      destinationId: 'd"\\1',
      eventId: 'é\n\u2028',
      ruleId: 'r\t"x"',
      error: 'quote " backslash \\ control \u0001',
      attempts: 3,
    }),
  ],
])('a report (%s) is the JSON that JSON.stringify writes', (_, value) => {
  const json = new ReportJson();
  const expected = JSON.stringify({ ...value, at });
  // Twice: the second time from the kept pieces.
  expect(json.of(value, JSON.stringify(at))).toBe(expected);
  expect(json.of(value, JSON.stringify(at))).toBe(expected);
});

test('pieces of one destination, outcome or rule never leak into another report', () => {
  const json = new ReportJson();
  const atJson = JSON.stringify(at);
  const reports = [
    report({ destinationId: 'a', eventId: '1', ruleId: 'r1', attempts: 1 }),
    report({ destinationId: 'b', eventId: '1', ruleId: 'r1', attempts: 1 }),
    report({ destinationId: 'a', outcome: 'retrying', eventId: '2', ruleId: 'r2', error: 'down', attempts: 2 }),
    report({ destinationId: 'a', eventId: '3', ruleId: 'r2', attempts: 1 }),
  ];
  for (const value of reports)
    expect(JSON.parse(json.of(value, atJson))).toEqual(JSON.parse(JSON.stringify({ ...value, at })));
});

test('many reports go as records below the large-object size, several per send, none lost', async () => {
  const sends: OutgoingRecord[][] = [];
  const producer = {
    send: async (records: OutgoingRecord[]) => {
      sends.push(records);
      return [];
    },
  } as unknown as KafkaProducer;
  const reports = new LiveReports({
    producer,
    topic: 'deliveries',
    flushIntervalMs: 10_000,
    maxBuffered: 100_000,
    registry: new Registry(),
    logger: createLogger({ service: 'test', level: 'error' }),
  });
  const count = 20_000;
  reports.add(
    Array.from({ length: count }, (_, index) =>
      report({ destinationId: `d${index % 10}`, eventId: `event-${index}`, ruleId: 'all', attempts: 1 }),
    ),
  );
  await reports.close();

  const records = sends.flat();
  const values = records.map((record) => String(record.value));
  const parsed = values.flatMap((value) => JSON.parse(value) as (LiveReport & { at: string })[]);
  expect(parsed).toHaveLength(count);
  expect(parsed.map((value) => value.eventId)).toEqual(Array.from({ length: count }, (_, index) => `event-${index}`));
  expect(parsed[0]).toEqual({
    destinationId: 'd0',
    outcome: 'delivered',
    eventId: 'event-0',
    ruleId: 'all',
    attempts: 1,
    at: expect.any(String),
  });
  for (const value of values) expect(value.length).toBeLessThan(64 * 1024 + 200);
  for (const send of sends)
    expect(send.reduce((total, record) => total + String(record.value).length, 0)).toBeLessThan(256 * 1024 + 64 * 1024);
  expect(sends.length).toBeLessThan(records.length);
});
