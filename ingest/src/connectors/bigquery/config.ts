import { Type, type Static } from '@sinclair/typebox';
import { RetryPolicy } from '../toolkit/retry.ts';

const Column = Type.String({ minLength: 1, maxLength: 300 });

const BigQueryMapping = Type.Object(
  {
    kind: Type.Union([Type.Literal('metric'), Type.Literal('event'), Type.Literal('record')], { default: 'metric' }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A fixed event name.' })),
    nameColumn: Type.Optional(Type.String({ minLength: 1, description: "Or: the column holding each row's name." })),
    timestampColumn: Column,
    valueColumn: Type.Optional(Type.String({ minLength: 1, description: 'The measurement, for metrics.' })),
    unit: Type.Optional(Type.String({ maxLength: 50 })),
    dimensionColumns: Type.Array(Column, { default: [] }),
    idColumns: Type.Optional(
      Type.Array(Column, { minItems: 1, description: 'Primary key; defaults to timestamp and dimension columns.' }),
    ),
    versionColumn: Type.Optional(
      Type.String({ minLength: 1, description: 'A row version; without it the row content is the version.' }),
    ),
    entityType: Type.Optional(
      Type.String({ minLength: 1, description: 'Sets entity { type, id: primary key } on each record.' }),
    ),
  },
  { additionalProperties: false },
);

export const BigQueryConfig = Type.Object(
  {
    projectId: Type.String({ minLength: 1, description: 'The project that runs (and is billed for) the query.' }),
    location: Type.Optional(Type.String({ minLength: 1, description: 'Dataset location, e.g. US or europe-west1.' })),
    query: Type.String({
      minLength: 1,
      description: 'Standard SQL; @cursor is the resume value (after the lookback).',
    }),
    cursorColumn: Column,
    cursorType: Type.Union([Type.Literal('TIMESTAMP'), Type.Literal('INT64'), Type.Literal('STRING')], {
      default: 'TIMESTAMP',
    }),
    startCursor: Type.String({ default: '1970-01-01T00:00:00Z', description: 'The @cursor of the first sync.' }),
    lookbackSeconds: Type.Integer({
      minimum: 0,
      default: 3600,
      description: 'For TIMESTAMP cursors: re-read late-arriving rows.',
    }),
    pageSize: Type.Integer({ minimum: 1, maximum: 100_000, default: 5_000 }),
    pollIntervalMs: Type.Integer({
      minimum: 10,
      maximum: 60_000,
      default: 1_000,
      description: 'Wait between polls of a running job.',
    }),
    maxPollAttempts: Type.Integer({ minimum: 1, default: 3_600 }),
    mapping: BigQueryMapping,
    apiEndpoint: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description: 'Override of https://bigquery.googleapis.com (proxies, tests).',
      }),
    ),
    retry: RetryPolicy,
  },
  { additionalProperties: false },
);
export type BigQueryConfig = Static<typeof BigQueryConfig>;

const ServiceAccountKey = Type.Object(
  {
    type: Type.Literal('service_account', { description: 'A service-account key file says "service_account".' }),
    client_email: Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$', description: 'The service account.' }),
    private_key: Type.String({
      pattern: '-----BEGIN PRIVATE KEY-----',
      description: 'The PEM-encoded PKCS#8 RSA key the JWT assertion is signed with.',
    }),
    private_key_id: Type.Optional(Type.String({ minLength: 1 })),
    token_uri: Type.String({
      pattern: '^https?://',
      description:
        "Where the signed assertion is exchanged for an access token (Google's: https://oauth2.googleapis.com/token).",
    }),
  },
  {
    additionalProperties: true,
    description: 'The JSON key file of a service account, as Google Cloud downloads it (its other fields are kept).',
  },
);

/**
 * How the Google connectors authenticate (docs/connectors.md "Authentication"): a service
 * account's key; a user's consent (an OAuth client's id and secret and the user's refresh token);
 * or a short-lived access token (tests, one-off runs).
 */
export const GoogleCredentials = Type.Union([
  Type.Object({ serviceAccountKey: ServiceAccountKey }, { additionalProperties: false }),
  Type.Object(
    {
      clientId: Type.String({ minLength: 1, description: 'The OAuth client id (Google Cloud, APIs & Services).' }),
      clientSecret: Type.String({ minLength: 1, description: "The OAuth client's secret." }),
      refreshToken: Type.String({ minLength: 1, description: 'The refresh token the user granted (offline access).' }),
      tokenUrl: Type.Optional(
        Type.String({ pattern: '^https?://', description: 'Default https://oauth2.googleapis.com/token.' }),
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { accessToken: Type.String({ minLength: 1, description: 'A short-lived OAuth2 access token (ya29...).' }) },
    { additionalProperties: false },
  ),
]);
export type GoogleCredentials = Static<typeof GoogleCredentials>;
