import { Type, type TProperties } from '@sinclair/typebox';

/** An object section whose keys are all known and which may be left out (defaults fill it). */
export const Section = <T extends TProperties>(properties: T, description?: string) =>
  Type.Object(properties, { additionalProperties: false, default: {}, ...(description ? { description } : {}) });

const Port = (defaultPort: number) => Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort });

export const HttpListener = (defaultPort: number, description: string) =>
  Section(
    {
      host: Type.String({ default: '127.0.0.1', description: 'Address to listen on; 0.0.0.0 for every interface.' }),
      port: Port(defaultPort),
    },
    description,
  );

export const LogSettings = Section({
  level: Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug')], {
    default: 'info',
  }),
});

export const KafkaSettings = Section({
  brokers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, default: ['127.0.0.1:9092'] }),
  clientId: Type.String({ default: 'muxly' }),
  ssl: Type.Boolean({
    default: false,
    description: 'Connect to the brokers over TLS (certificates verified; required by managed Kafka services).',
  }),
  sslCaFile: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "PEM file of the CA that signed the brokers' certificates, for a private CA; unset: the system's trusted CAs.",
    }),
  ),
  sasl: Type.Optional(
    Type.Object(
      {
        mechanism: Type.Union(
          [
            Type.Literal('plain'),
            Type.Literal('scram-sha-256'),
            Type.Literal('scram-sha-512'),
            Type.Literal('oauthbearer'),
          ],
          {
            description:
              'plain and scram-* take username and password; oauthbearer takes a token from tokenUrl with the client credentials grant.',
          },
        ),
        username: Type.Optional(Type.String({ minLength: 1, description: 'SASL user (plain, scram-*).' })),
        password: Type.Optional(Type.String({ description: "SASL user's password (plain, scram-*)." })),
        tokenUrl: Type.Optional(
          Type.String({
            format: 'uri',
            pattern: '^https?://',
            description: "OAuth 2.0 token endpoint of the brokers' identity provider (oauthbearer).",
          }),
        ),
        clientId: Type.Optional(
          Type.String({ minLength: 1, description: 'OAuth client id (oauthbearer; not kafka.clientId).' }),
        ),
        clientSecret: Type.Optional(Type.String({ minLength: 1, description: 'OAuth client secret (oauthbearer).' })),
        scope: Type.Optional(
          Type.String({ minLength: 1, description: 'Scopes to ask the token for, space-separated (oauthbearer).' }),
        ),
      },
      {
        additionalProperties: false,
        // Which fields a mechanism needs; the loader reports a missing one by its name.
        allOf: [
          {
            if: { properties: { mechanism: { const: 'oauthbearer' } } },
            then: {
              required: ['tokenUrl', 'clientId', 'clientSecret'],
              properties: { username: false, password: false },
            },
            else: {
              required: ['username', 'password'],
              properties: { tokenUrl: false, clientId: false, clientSecret: false, scope: false },
            },
          },
        ],
      },
    ),
  ),
  connectionTimeoutMs: Type.Integer({ minimum: 100, default: 3_000 }),
  requestTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
});

export const SchemaRegistrySettings = Section({
  url: Type.String({
    format: 'uri',
    default: 'http://127.0.0.1:8085/apis/ccompat/v7',
    description: 'Confluent-compatible schema registry API.',
  }),
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
});

export const TopicSettings = Section({
  prefix: Type.String({ default: 'muxly.', pattern: '^[A-Za-z0-9._-]*$' }),
  partitions: Type.Integer({ minimum: 1, default: 3 }),
  replicationFactor: Type.Integer({ minimum: 1, default: 1 }),
  create: Type.Boolean({ default: true, description: 'Create missing topics at start.' }),
});

export const LivenessSettings = Section(
  {
    stallAfterMs: Type.Integer({
      minimum: 1_000,
      default: 60_000,
      description:
        'A consumer (or a router destination lane) with records waiting that makes no progress for this long turns /healthz to 503 (a supervisor then restarts the service). Retries count as progress; keep it above the longest single step: a destination request timeout, router.retry.maxDelayMs, the transformer session timeout.',
    }),
  },
  'When a stage counts as stuck (every service with a Kafka consumer).',
);

export const TracingSettings = Section(
  {
    otlpEndpoint: Type.Optional(
      Type.String({
        format: 'uri',
        pattern: '^https?://',
        description:
          'Base URL of an OpenTelemetry collector speaking OTLP/HTTP; spans are POSTed as OTLP JSON to its /v1/traces path (http://collector:4318 → http://collector:4318/v1/traces). Unset: no span is recorded or exported (the W3C traceparent a caller sent is still passed on). OTEL_EXPORTER_OTLP_ENDPOINT is read when this is not set.',
      }),
    ),
    serviceName: Type.String({
      minLength: 1,
      default: 'muxly',
      description:
        'Prefix of the service.name resource attribute: each service reports as the prefix, a dash and its own name (muxly-ingest, muxly-transformer, muxly-router).',
    }),
    sampleRatio: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 1,
      description:
        'Share of the traces started by Muxly that are recorded (0 to 1). A trace continued from a caller follows the caller’s sampled flag.',
    }),
    exportTimeoutMs: Type.Integer({
      minimum: 100,
      default: 10_000,
      description:
        'Longest wait for the collector to answer one export request (spans are exported in the background).',
    }),
  },
  'Distributed tracing with OpenTelemetry (docs/observability.md).',
);
