import type { RawEnvelope, UnifiedEvent } from '@muxly/schemas';

/** What a normalizer makes of one raw envelope: events, and items it could not normalize. */
export interface NormalizeResult {
  events: UnifiedEvent[];
  rejected: { index: number; item: unknown; reason: string }[];
}

export type Normalizer = (envelope: RawEnvelope) => NormalizeResult;

// The last value converted and its result: a raw record's items usually share one timestamp
// (ingest sets it), and parsing and formatting a date for each was 5 % of the transformer's CPU.
let lastValue: string | undefined;
let lastResult: string | undefined;

/** Normalized timestamps are always RFC 3339 in UTC, so consumers can compare them as strings. */
export function toUtcTimestamp(value: string): string | undefined {
  if (value === lastValue) return lastResult;
  const time = Date.parse(value);
  const result = Number.isNaN(time) ? undefined : new Date(time).toISOString();
  lastValue = value;
  lastResult = result;
  return result;
}
