import { MetricInput, type RawEnvelope, type UnifiedEvent } from '@muxly/schemas';
import { compileValidator } from '@muxly/common';
import { toUtcTimestamp, type NormalizeResult } from './normalizer.ts';

const validateMetric = compileValidator(MetricInput);

/** `api.metrics.v1`: the metrics a client POSTed, ids and timestamps already set by ingest. */
export function normalizeApiMetrics(envelope: RawEnvelope): NormalizeResult {
  const payload = envelope.payload as { metrics?: unknown };
  if (!payload || !Array.isArray(payload.metrics)) {
    return {
      events: [],
      rejected: [{ index: -1, item: envelope.payload, reason: 'payload.metrics must be an array' }],
    };
  }
  const result: NormalizeResult = { events: [], rejected: [] };
  payload.metrics.forEach((item: unknown, index) => {
    const problems = validateMetric(item);
    if (problems.length > 0) return void result.rejected.push({ index, item, reason: problems.join('; ') });
    const metric = item as MetricInput;
    const timestamp = toUtcTimestamp(metric.timestamp ?? envelope.receivedAt);
    if (!metric.id || !timestamp)
      return void result.rejected.push({ index, item, reason: 'id and a valid timestamp are required' });
    const event: UnifiedEvent = {
      id: metric.id,
      schemaVersion: 1,
      kind: 'metric',
      name: metric.name,
      timestamp,
      receivedAt: envelope.receivedAt,
      source: envelope.source,
      value: metric.value,
      dimensions: metric.dimensions ?? {},
      attributes: metric.attributes ?? {},
    };
    if (metric.unit !== undefined) event.unit = metric.unit;
    result.events.push(event);
  });
  return result;
}
