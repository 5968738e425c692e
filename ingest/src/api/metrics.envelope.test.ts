import type { MetricInput } from '@muxly/schemas';
import { encodeMetrics } from './metrics.envelope.ts';

const receivedAt = '2026-12-07T06:00:00.123Z';
const source = { type: 'api', id: 'writer' };

/** What the handler wrote before: set the missing fields on the parsed metrics, stringify the envelope. */
function stringifiedEnvelope(metrics: MetricInput[], ids: string[]): string {
  const completed = metrics.map((metric, index) => {
    const copy = { ...metric };
    copy.id ??= ids[index];
    copy.timestamp ??= receivedAt;
    return copy;
  });
  return JSON.stringify({
    envelopeVersion: 1,
    format: 'api.metrics.v1',
    source,
    receivedAt,
    payload: { metrics: completed },
  });
}

test('the record is byte for byte the stringified envelope with ids and timestamps filled in', () => {
  const metrics: MetricInput[] = [
    { name: 'a', value: 1 },
    { id: 'client-1', name: 'b', value: -0.5, unit: 'ms' },
    { name: 'c', value: 2, timestamp: '2026-05-01T10:00:00+02:00', dimensions: { 'quote"d': 'é\n', on: true } },
    {
      id: 'client-2',
      name: 'd',
      value: 3e21,
      timestamp: '2026-05-01T10:00:00Z',
      attributes: { nested: [{ x: null }] },
    },
  ];
  const before = JSON.stringify(metrics);
  let next = 0;
  const encoded = encodeMetrics(metrics, source, receivedAt, () => `generated-${next++}`);

  expect(encoded.ids).toEqual(['generated-0', 'client-1', 'generated-1', 'client-2']);
  expect(encoded.record).toBe(stringifiedEnvelope(metrics, encoded.ids));
  // The texts measured for the size limit are the metrics as received, which stay untouched.
  expect(encoded.received).toEqual(metrics.map((metric) => JSON.stringify(metric)));
  expect(JSON.stringify(metrics)).toBe(before);
});

test('a source id that needs escaping stays valid JSON', () => {
  const encoded = encodeMetrics([{ name: 'a', value: 1 }], { type: 'api', id: 'key "1"\\' }, receivedAt, () => 'x');
  expect(JSON.parse(encoded.record)).toMatchObject({ source: { type: 'api', id: 'key "1"\\' } });
});
