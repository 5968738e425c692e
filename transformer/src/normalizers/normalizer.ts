import type { RawEnvelope, UnifiedEvent } from '@muxly/schemas';

/** What a normalizer makes of one raw envelope: events, and items it could not normalize. */
export interface NormalizeResult {
  events: UnifiedEvent[];
  rejected: { index: number; item: unknown; reason: string }[];
}

export type Normalizer = (envelope: RawEnvelope) => NormalizeResult;

/** Normalized timestamps are always RFC 3339 in UTC, so consumers can compare them as strings. */
export function toUtcTimestamp(value: string): string | undefined {
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}
