import { Type, type Static } from '@sinclair/typebox';
import { SourceRef } from './unified-event.ts';

// What ingest saw, before normalization (`muxly.raw`). Internal to Muxly: only the transformer
// reads it, so it is plain JSON without the registry. `format` tells the transformer which
// normalizer applies; an unknown format is dead-lettered, not guessed.

/** One metric as clients send it to POST /v1/metrics (the OpenAPI document mirrors this). */
export const MetricInput = Type.Object(
  {
    id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Idempotency key; generated when absent.' }),
    ),
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z_:][A-Za-z0-9_.:/-]*$' }),
    value: Type.Number(),
    unit: Type.Optional(Type.String({ maxLength: 50 })),
    timestamp: Type.Optional(Type.String({ format: 'date-time' })),
    dimensions: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 200 }),
        Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]),
      ),
    ),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type MetricInput = Static<typeof MetricInput>;

/**
 * One record as a connector emits it: already mapped to the unified event's fields by the
 * connector's configuration. The transformer adds source, receivedAt and schemaVersion, and
 * validates. `id` must be deterministic (source, stream, primary key, version) so re-reading a
 * window creates no duplicates downstream.
 */
export const ConnectorRecord = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    kind: Type.Union([Type.Literal('metric'), Type.Literal('event'), Type.Literal('record')]),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    timestamp: Type.String({ format: 'date-time' }),
    value: Type.Optional(Type.Number()),
    unit: Type.Optional(Type.String({ maxLength: 50 })),
    dimensions: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 200 }),
        Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]),
      ),
    ),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    entity: Type.Optional(
      Type.Object(
        { type: Type.String({ minLength: 1 }), id: Type.String({ minLength: 1 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ConnectorRecord = Static<typeof ConnectorRecord>;

export const RAW_FORMATS = {
  /** payload: { metrics: MetricInput[] } with every id set by ingest. */
  apiMetrics: 'api.metrics.v1',
  /** payload: { stream, records: object[] } from a connector sync. */
  connectorRecords: 'connector.records.v1',
} as const;

export const RawEnvelope = Type.Object(
  {
    envelopeVersion: Type.Literal(1),
    format: Type.String({ minLength: 1 }),
    source: SourceRef,
    connectorId: Type.Optional(Type.String()),
    jobExecutionId: Type.Optional(Type.String()),
    receivedAt: Type.String({ format: 'date-time' }),
    payload: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type RawEnvelope = Static<typeof RawEnvelope>;

/** Headers of a dead letter on `muxly.dlq`: the original bytes are the record value. */
export const DLQ_HEADERS = {
  originalTopic: 'muxly.original.topic',
  originalPartition: 'muxly.original.partition',
  originalOffset: 'muxly.original.offset',
  stage: 'muxly.stage',
  errorClass: 'muxly.error.class',
  errorMessage: 'muxly.error.message',
  attempts: 'muxly.attempts',
  firstFailedAt: 'muxly.first.failed.at',
  destinationId: 'muxly.destination.id',
  /** The item of a batch that failed (transformer), when not the whole record. */
  originalIndex: 'muxly.original.index',
  /** With originalIndex: the raw envelope with its list of items emptied, so the item can be replayed alone. */
  rawEnvelope: 'muxly.raw.envelope',
} as const;
