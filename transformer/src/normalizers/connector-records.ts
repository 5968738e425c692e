import { ConnectorRecord, type RawEnvelope, type UnifiedEvent } from '@muxly/schemas';
import { compileValidator } from '@muxly/common';
import { toUtcTimestamp, type NormalizeResult } from './normalizer.ts';

const validateRecord = compileValidator(ConnectorRecord);

/** `connector.records.v1`: records a connector sync read, already mapped by its configuration. */
export function normalizeConnectorRecords(envelope: RawEnvelope): NormalizeResult {
  const payload = envelope.payload as { records?: unknown };
  if (!payload || !Array.isArray(payload.records)) {
    return {
      events: [],
      rejected: [{ index: -1, item: envelope.payload, reason: 'payload.records must be an array' }],
    };
  }
  const result: NormalizeResult = { events: [], rejected: [] };
  payload.records.forEach((item: unknown, index) => {
    const problems = validateRecord(item);
    if (problems.length > 0) return void result.rejected.push({ index, item, reason: problems.join('; ') });
    const record = item as ConnectorRecord;
    const timestamp = toUtcTimestamp(record.timestamp);
    if (!timestamp) return void result.rejected.push({ index, item, reason: 'timestamp is not a valid date-time' });
    const event: UnifiedEvent = {
      id: record.id,
      schemaVersion: 1,
      kind: record.kind,
      name: record.name,
      timestamp,
      receivedAt: envelope.receivedAt,
      source: envelope.source,
      dimensions: record.dimensions ?? {},
      attributes: record.attributes ?? {},
    };
    if (record.value !== undefined) event.value = record.value;
    if (record.unit !== undefined) event.unit = record.unit;
    if (record.entity) event.entity = record.entity;
    result.events.push(event);
  });
  return result;
}
