import type { ConnectorRecord } from '@muxly/schemas';
import { metricName, recordId, toLabel, toTimestamp } from '../toolkit/records.ts';
import type { BigQueryConfig } from './config.ts';

// Maps rows (as the client parses them) to records by the configured columns.

/** Unwraps the client's typed values (BigQueryTimestamp, BigQueryDate, Big numerics) to plain JSON. */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object') {
    const inner = (value as { value?: unknown }).value;
    if (typeof inner === 'string' || typeof inner === 'number') return inner;
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return (value as { toJSON(): unknown }).toJSON();
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, plain(child)]));
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function mapRow(config: BigQueryConfig, row: Record<string, unknown>): ConnectorRecord {
  const mapping = config.mapping;
  const values = Object.fromEntries(Object.entries(row).map(([key, value]) => [key, plain(value)]));
  const timestamp = toTimestamp(values[mapping.timestampColumn]);
  if (timestamp === undefined) throw new Error(`row has no timestamp in column ${mapping.timestampColumn}`);
  const dimensions: Record<string, string | number | boolean> = {};
  for (const column of mapping.dimensionColumns) {
    const label = toLabel(values[column]);
    if (label !== undefined) dimensions[column] = label;
  }
  const rawName = mapping.nameColumn ? values[mapping.nameColumn] : mapping.name;
  if (typeof rawName !== 'string' || rawName === '')
    throw new Error(`row has no name (set mapping.name or mapping.nameColumn)`);
  const name = mapping.kind === 'metric' ? metricName('', rawName) : rawName;
  const keyColumns = mapping.idColumns ?? [mapping.timestampColumn, ...mapping.dimensionColumns];
  const primaryKey = keyColumns.map((column) => values[column] ?? null);
  const version = mapping.versionColumn ? values[mapping.versionColumn] : values;
  const record: ConnectorRecord = {
    id: recordId('bigquery', `${config.projectId}:${name}`, primaryKey, version),
    kind: mapping.kind,
    name,
    timestamp,
    dimensions,
    attributes: values,
  };
  if (mapping.kind === 'metric') {
    const value = Number(mapping.valueColumn ? values[mapping.valueColumn] : Number.NaN);
    if (!Number.isFinite(value))
      throw new Error(`metric row has no numeric value in column ${mapping.valueColumn ?? '(valueColumn not set)'}`);
    record.value = value;
    if (mapping.unit) record.unit = mapping.unit;
  }
  if (mapping.entityType) record.entity = { type: mapping.entityType, id: primaryKey.map(String).join('/') };
  return record;
}

/** The larger of two cursor values of the configured type. */
export function laterValue(
  config: BigQueryConfig,
  current: string | undefined,
  candidate: unknown,
): string | undefined {
  const value = plain(candidate);
  if (value === null || value === undefined) return current;
  let text = String(value);
  if (config.cursorType === 'TIMESTAMP') text = toTimestamp(value) ?? text;
  if (current === undefined) return text;
  if (config.cursorType === 'INT64') return BigInt(text) > BigInt(current) ? text : current;
  if (config.cursorType === 'TIMESTAMP') return Date.parse(text) > Date.parse(current) ? text : current;
  return text > current ? text : current;
}
