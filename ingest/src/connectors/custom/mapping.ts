import type { ConnectorRecord } from '@muxly/schemas';
import { compilePath } from '../toolkit/json-path.ts';
import { recordId, toLabel, toTimestamp } from '../toolkit/records.ts';
import type { CustomHttpConfig } from './config.ts';

/** Maps one selected JSON value to a ConnectorRecord by the configured paths. */
export function mapRecord(config: CustomHttpConfig, source: string, item: unknown, syncTime: Date): ConnectorRecord {
  const mapping = config.mapping;
  const primaryKey = compilePath(mapping.idPath).first(item);
  if (primaryKey === undefined || primaryKey === null || typeof primaryKey === 'object') {
    throw new Error(`record has no primary key at ${mapping.idPath}`);
  }
  const versionPath = mapping.versionPath ?? config.cursorPath;
  const version = versionPath ? compilePath(versionPath).first(item) : undefined;
  const timestampPath = mapping.timestampPath ?? config.cursorPath;
  const timestamp =
    (timestampPath ? toTimestamp(compilePath(timestampPath).first(item)) : undefined) ?? syncTime.toISOString();
  const dimensions: Record<string, string | number | boolean> = {};
  for (const [label, path] of Object.entries(mapping.dimensions)) {
    const value = toLabel(compilePath(path).first(item));
    if (value !== undefined) dimensions[label] = value;
  }
  const record: ConnectorRecord = {
    // Without a version, the content itself is the version: an unchanged re-read is a duplicate.
    id: recordId(source, config.stream, primaryKey, version ?? item),
    kind: mapping.kind,
    name: mapping.name,
    timestamp,
    dimensions,
    attributes:
      item !== null && typeof item === 'object' && !Array.isArray(item)
        ? (item as Record<string, unknown>)
        : { value: item },
  };
  if (mapping.kind === 'metric') {
    const value = Number(mapping.valuePath ? compilePath(mapping.valuePath).first(item) : Number.NaN);
    if (!Number.isFinite(value))
      throw new Error(
        `metric record ${String(primaryKey)} has no numeric value at ${mapping.valuePath ?? '(valuePath not set)'}`,
      );
    record.value = value;
    if (mapping.unit) record.unit = mapping.unit;
  }
  if (mapping.entityType) record.entity = { type: mapping.entityType, id: String(primaryKey) };
  return record;
}

/** Orders cursor values: numbers numerically, everything else as text (RFC 3339 sorts as text). */
export function laterCursor(current: string | number | undefined, candidate: unknown): string | number | undefined {
  if (typeof candidate !== 'string' && typeof candidate !== 'number') return current;
  if (current === undefined) return candidate;
  if (typeof current === 'number' && typeof candidate === 'number') return candidate > current ? candidate : current;
  return String(candidate) > String(current) ? candidate : current;
}
