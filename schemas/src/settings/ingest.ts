import { Type } from '@sinclair/typebox';
import { HttpListener, Section } from './shared.ts';

export const ApiKeyEntry = Type.Object(
  {
    id: Type.String({ minLength: 1, description: 'Names the writer in logs, metrics and the raw envelope.' }),
    hash: Type.String({
      pattern: '^sha256:[0-9a-f]{64}$',
      description: 'sha256:<hex> of the key; the key itself is never stored.',
    }),
  },
  { additionalProperties: false },
);

export const IngestSettings = Section({
  http: HttpListener(8080, 'The metrics API (also serves /healthz, /readyz, /metrics, /docs).'),
  apiKeys: Type.Array(ApiKeyEntry, { default: [] }),
  limits: Section({
    maxRequestBytes: Type.Integer({
      minimum: 1024,
      default: 1_048_576,
      description: 'Largest request body after decompression.',
    }),
    maxMetricBytes: Type.Integer({
      minimum: 256,
      default: 32_768,
      description: 'Largest single metric (serialized JSON).',
    }),
    maxBatchSize: Type.Integer({ minimum: 1, default: 1_000, description: 'Most metrics in one request.' }),
  }),
  clientTimeouts: Section(
    {
      headersMs: Type.Integer({
        minimum: 100,
        default: 10_000,
        description:
          'Longest time a client may take to send the request headers; then 408 and the connection is closed.',
      }),
      requestMs: Type.Integer({
        minimum: 100,
        default: 30_000,
        description:
          'Longest time a client may take to send the whole request, headers and body (at least headersMs); then 408 and the connection is closed.',
      }),
      keepAliveMs: Type.Integer({
        minimum: 100,
        default: 5_000,
        description: 'How long an idle keep-alive connection stays open.',
      }),
    },
    'Guards against slow clients holding connections.',
  ),
  rateLimit: Section(
    {
      requestsPerSecond: Type.Number({
        minimum: 0,
        default: 1_000,
        description: 'Requests per second each API key may send on average; 0 turns the limit off.',
      }),
      burst: Type.Integer({
        minimum: 1,
        default: 2_000,
        description: 'Requests a key may send at once after being idle (the token bucket size).',
      }),
    },
    'Per API key token bucket; over it the answer is 429 with Retry-After.',
  ),
  sendTimeoutMs: Type.Integer({
    minimum: 100,
    default: 5_000,
    description: 'Longest wait for the Kafka acknowledgement before answering 503.',
  }),
  maxInFlightSends: Type.Integer({
    minimum: 1,
    default: 2_000,
    description:
      'Most requests waiting for a Kafka acknowledgement at once; beyond it requests are answered 503 at once (bounded memory while Kafka is away).',
  }),
  jobs: Section(
    {
      enabled: Type.Boolean({
        default: true,
        description: 'Run connector syncs on commands from the control plane (<prefix>commands).',
      }),
      maxConcurrentSyncs: Type.Integer({
        minimum: 1,
        maximum: 100,
        default: 4,
        description: 'Syncs this instance runs at once; further run commands wait.',
      }),
      plugins: Type.Array(Type.String(), {
        default: [],
        description:
          'Connector plugins ingest and the control plane load at start: npm package names or folders (relative to the working directory). One that fails to load is logged and left out.',
      }),
      httpTimeoutMs: Type.Integer({
        minimum: 100,
        default: 30_000,
        description: 'Longest single HTTP exchange of a connector.',
      }),
      recordsPerMessage: Type.Integer({
        minimum: 1,
        maximum: 5_000,
        default: 500,
        description: 'Records per connector.records.v1 raw message.',
      }),
      progressIntervalMs: Type.Integer({
        minimum: 0,
        default: 1_000,
        description: 'Least time between two progress reports of a sync.',
      }),
    },
    'Connector syncs started by the scheduler (docs/scheduling.md).',
  ),
  kafkaStartTimeoutMs: Type.Integer({
    minimum: 0,
    default: 30_000,
    description: 'How long to keep retrying the first Kafka connection at start before giving up.',
  }),
});
