import { createHash } from 'node:crypto';

// Helpers for mapping source rows to ConnectorRecord fields.

/**
 * A deterministic record id from source, stream, primary key and version: re-reading a window
 * yields the same ids, so downstream deduplication drops the repeats. A new version of the same
 * row (a later modification time, a revised metric value) gets a new id on purpose.
 */
export function recordId(source: string, stream: string, primaryKey: unknown, version: unknown): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([source, stream, primaryKey, version ?? null]))
    .digest('hex');
  return `${source}-${digest.slice(0, 40)}`;
}

export type Label = string | number | boolean;

/** A value usable as a flat dimension label, or undefined (objects and nulls are not labels). */
export function toLabel(value: unknown): Label | undefined {
  if (typeof value === 'string') return value.slice(0, 1024);
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  return undefined;
}

/** Parses a timestamp in the shapes sources use (RFC 3339, epoch ms or s, YYYYMMDD) to RFC 3339. */
export function toTimestamp(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value === 'number' && Number.isFinite(value))
    return new Date(value < 1e11 ? value * 1000 : value).toISOString();
  if (typeof value !== 'string' || value === '') return undefined;
  const compactDate = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (compactDate) return `${compactDate[1]}-${compactDate[2]}-${compactDate[3]}T00:00:00.000Z`;
  if (/^\d+(\.\d+)?$/.test(value)) return toTimestamp(Number(value));
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : new Date(parsed).toISOString();
}

/** A metric name safe for the unified event's name pattern. */
export function metricName(prefix: string, name: string): string {
  const cleaned = `${prefix}${name}`.replace(/[^A-Za-z0-9_.:/-]/g, '_');
  return /^[A-Za-z_:]/.test(cleaned) ? cleaned : `_${cleaned}`;
}
