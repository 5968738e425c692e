// What a tap follows: a metric or event name, a source, dimensions (all given ones must match).

export interface TapFilter {
  name?: string;
  /** Matches the source's type (`api`, `hubspot`…) or its id. */
  source?: string;
  /** key → value; a value compares as text (`plan=pro` matches "pro", `shard=3` matches 3). */
  dimensions: Record<string, string>;
}

type Item = Record<string, unknown>;

const isObject = (value: unknown): value is Item => typeof value === 'object' && value !== null;

function sourceMatches(filter: TapFilter, source: unknown): boolean {
  if (filter.source === undefined) return true;
  if (!isObject(source)) return false;
  return source.type === filter.source || source.id === filter.source;
}

function itemMatches(filter: TapFilter, item: Item): boolean {
  if (filter.name !== undefined && item.name !== filter.name) return false;
  const entries = Object.entries(filter.dimensions);
  if (entries.length === 0) return true;
  const dimensions = item.dimensions;
  if (!isObject(dimensions)) return false;
  return entries.every(([key, value]) => key in dimensions && String(dimensions[key]) === value);
}

/** A unified event of `muxly.events`. */
export const eventMatches = (filter: TapFilter, event: Item): boolean =>
  sourceMatches(filter, event.source) && itemMatches(filter, event);

/**
 * The items of a raw envelope (`muxly.raw`) the filter selects: the metrics of an ingest request
 * or the records of a connector sync, before normalization. Empty when none (or the envelope is
 * not one Muxly wrote).
 */
export function rawItemsMatching(filter: TapFilter, envelope: Item): Item[] {
  if (!sourceMatches(filter, envelope.source) || !isObject(envelope.payload)) return [];
  const { payload } = envelope;
  const items = Array.isArray(payload.metrics)
    ? payload.metrics
    : Array.isArray(payload.records)
      ? payload.records
      : [];
  return items.filter((item): item is Item => isObject(item) && itemMatches(filter, item));
}

/** Parses repeated `dimension=key=value` query values. */
export function parseDimensions(values: readonly string[]): Record<string, string> | string {
  const dimensions: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0) return `dimension "${value}" is not key=value`;
    dimensions[value.slice(0, at)] = value.slice(at + 1);
  }
  return dimensions;
}
