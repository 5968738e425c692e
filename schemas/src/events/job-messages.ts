import { Type, type Static } from '@sinclair/typebox';

// The two internal topics between the control plane and ingest's job runner (docs/scheduling.md):
//   <prefix>commands     control plane → ingest: run a connector sync, or cancel one;
//   <prefix>job-results  ingest → control plane: started, progress, and the one final result.
// Plain JSON (not registry-encoded: only Muxly reads them), keyed by job id so one job's
// commands keep their order on one partition.

const Cursor = Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]);

export const RunCommand = Type.Object(
  {
    commandVersion: Type.Literal(1),
    type: Type.Literal('run'),
    executionId: Type.String({ minLength: 1 }),
    jobId: Type.String({ minLength: 1 }),
    attempt: Type.Integer({ minimum: 1 }),
    action: Type.String({ description: '`sync` resumes from cursor; `full-resync` starts from null.' }),
    params: Type.Record(Type.String(), Type.Unknown()),
    connector: Type.Object(
      {
        id: Type.String({ minLength: 1 }),
        type: Type.String({ minLength: 1 }),
        config: Type.Record(Type.String(), Type.Unknown()),
        /** Encrypted under the platform key (context `connector/<id>`), exactly as stored; null when none. */
        credentials: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    cursor: Cursor,
    /** After this instant the run is pointless: the control plane has marked it timed out. */
    deadline: Type.String({ format: 'date-time' }),
    issuedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type RunCommand = Static<typeof RunCommand>;

export const CancelCommand = Type.Object(
  {
    commandVersion: Type.Literal(1),
    type: Type.Literal('cancel'),
    executionId: Type.String({ minLength: 1 }),
    jobId: Type.String({ minLength: 1 }),
    reason: Type.Union([Type.Literal('cancelled'), Type.Literal('timed_out')]),
    issuedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type CancelCommand = Static<typeof CancelCommand>;

export const JobCommand = Type.Union([RunCommand, CancelCommand]);
export type JobCommand = Static<typeof JobCommand>;

export const JobProgress = Type.Object(
  {
    pages: Type.Integer({ minimum: 0 }),
    records: Type.Integer({ minimum: 0 }),
    cursor: Cursor,
  },
  { additionalProperties: false },
);
export type JobProgress = Static<typeof JobProgress>;

export const JobCounts = Type.Object(
  {
    recordsRead: Type.Integer({ minimum: 0 }),
    recordsPublished: Type.Integer({ minimum: 0 }),
    pages: Type.Integer({ minimum: 0 }),
    streams: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type JobCounts = Static<typeof JobCounts>;

export const JobResult = Type.Object(
  {
    resultVersion: Type.Literal(1),
    /** started and progress may repeat; exactly one of succeeded, failed, cancelled, timed_out ends a run. */
    type: Type.Union([
      Type.Literal('started'),
      Type.Literal('progress'),
      Type.Literal('succeeded'),
      Type.Literal('failed'),
      Type.Literal('cancelled'),
      Type.Literal('timed_out'),
    ]),
    executionId: Type.String({ minLength: 1 }),
    jobId: Type.String({ minLength: 1 }),
    connectorId: Type.String({ minLength: 1 }),
    attempt: Type.Integer({ minimum: 1 }),
    at: Type.String({ format: 'date-time' }),
    progress: JobProgress,
    /** On the final result: what was read and published. */
    counts: Type.Optional(JobCounts),
    /**
     * The connector's new credentials, when its provider rotated a refresh token during the run
     * (docs/connectors.md "Authentication"): encrypted under the platform key for
     * `connector/<connectorId>`, exactly as the control plane stores them. It replaces the stored
     * credentials at once, since the old refresh token may already have stopped working.
     */
    credentials: Type.Optional(
      Type.Object({ $encrypted: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    /** On failed, cancelled and timed_out results. */
    error: Type.Optional(
      Type.Object(
        {
          message: Type.String(),
          errorClass: Type.String(),
          /** A retry may succeed (network, 5xx, rate limit, timeout); false for configuration or auth errors. */
          retryable: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type JobResult = Static<typeof JobResult>;
