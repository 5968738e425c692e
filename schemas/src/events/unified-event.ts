import { Type, type Static } from '@sinclair/typebox';

// The public contract of `muxly.events` (docs/consuming-events.md). The JSON Schema registered in the
// schema registry is generated from this definition (schemas/json/unified-event.v1.json), and the
// TypeScript type below is derived from the same source, so the two cannot drift.
// Evolution: only backward-compatible changes (new optional fields) within a schemaVersion.

// Timestamps are constrained by a pattern rather than `format: date-time`: every JSON Schema
// validator supports patterns, while some (the Node schema-registry client's default ajv among
// them) refuse to compile a schema with a format they do not know, and a consumer could not decode.
const Rfc3339 = (description: string) =>
  Type.String({
    pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
    description,
  });

const Label = Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]);

export const SourceRef = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'api, bigquery, ga4, hubspot, custom, or a plugin name.',
    }),
    id: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The API key id or connector id that produced the event.',
    }),
  },
  { additionalProperties: false },
);

export const EntityRef = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 100 }), id: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);

export const UnifiedEvent = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200, description: 'Stable identifier; the deduplication key.' }),
    schemaVersion: Type.Literal(1),
    kind: Type.Union([Type.Literal('metric'), Type.Literal('event'), Type.Literal('record')]),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    timestamp: Rfc3339('When it happened (RFC 3339, UTC).'),
    receivedAt: Rfc3339('When Muxly received it (RFC 3339, UTC).'),
    source: SourceRef,
    value: Type.Optional(Type.Number({ description: 'The measurement, for metrics.' })),
    unit: Type.Optional(Type.String({ maxLength: 50 })),
    dimensions: Type.Record(Type.String({ maxLength: 200 }), Label, { description: 'Flat labels.' }),
    attributes: Type.Record(Type.String(), Type.Unknown(), { description: 'Free JSON payload.' }),
    entity: Type.Optional(EntityRef),
  },
  {
    additionalProperties: false,
    $id: 'https://muxly.dev/schemas/unified-event.v1.json',
    title: 'Muxly unified event',
  },
);
export type UnifiedEvent = Static<typeof UnifiedEvent>;

export const UNIFIED_EVENT_SCHEMA_VERSION = 1;

/**
 * The Kafka key of an event: one per series or entity, so per-key order holds and duplicates of
 * one id land on one partition. Metric: name and sorted dimensions. Record: source and entity.
 */
export function eventKey(event: Pick<UnifiedEvent, 'kind' | 'name' | 'dimensions' | 'source' | 'entity'>): string {
  if (event.entity) return `${event.source.type}:${event.entity.type}:${event.entity.id}`;
  // Built in one string, without an array of labels per event (the transformer keys every event).
  let key = event.name;
  for (const label of Object.keys(event.dimensions).sort()) key += `|${label}=${String(event.dimensions[label])}`;
  return key;
}

/**
 * An event's id scoped by its source: `<source type>/<source id>/<id>`, the source parts
 * percent-encoded so the form is unambiguous. `id` is chosen by the writer (an API client's
 * idempotency key), so it is unique only within its source: wherever ids decide that two events
 * are the same (the transformer's dedup window, a destination's upsert key or idempotency
 * header), this scoped form is used, and one writer cannot drop or overwrite another's events by
 * reusing their ids. The source is set by Muxly (the API key's or connector's id), never by the
 * writer.
 */
export function scopedEventId(event: { id: string; source: { type: string; id: string } }): string {
  return `${sourceScope(event.source)}${event.id}`;
}

/** The part of a scoped id that names the source, `<source type>/<source id>/`: one per source. */
export function sourceScope(source: { type: string; id: string }): string {
  return `${encodeURIComponent(source.type)}/${encodeURIComponent(source.id)}/`;
}

/**
 * The scoped id of a decoded event whose shape is not known (a record read back from a topic):
 * scoped when it has an id and a source; its bare id without a source; undefined without an id.
 */
export function scopedIdOf(event: Record<string, unknown>): string | undefined {
  if (typeof event.id !== 'string') return undefined;
  const source = event.source as { type?: unknown; id?: unknown } | undefined;
  if (source && typeof source.type === 'string' && typeof source.id === 'string')
    return scopedEventId({ id: event.id, source: { type: source.type, id: source.id } });
  return event.id;
}
