import { Type } from '@sinclair/typebox';
import { HttpListener, Section } from './shared.ts';

/** One platform key: credentials encrypted under it name its id, so old keys keep decrypting after a rotation. */
const SecretKeyEntry = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[A-Za-z0-9_.-]+$',
      description: 'Key id written into every ciphertext (no colon).',
    }),
    key: Type.String({
      minLength: 1,
      description: 'Base64 of 32 random bytes (AES-256), e.g. `openssl rand -base64 32`.',
    }),
  },
  { additionalProperties: false },
);

/** Which Keycloak realm's access tokens are accepted, and how its roles become Muxly roles (docs/security.md). */
const KeycloakSettings = Type.Object(
  {
    issuer: Type.String({
      pattern: '^https?://',
      description: "The realm URL, exactly as in the tokens' `iss`, e.g. http://127.0.0.1:8180/realms/muxly.",
    }),
    audience: Type.String({
      minLength: 1,
      default: 'muxly-api',
      description: 'The `aud` the tokens must carry (an audience mapper on the client adds it).',
    }),
    jwksUrl: Type.Optional(
      Type.String({ pattern: '^https?://', description: 'Defaults to <issuer>/protocol/openid-connect/certs.' }),
    ),
    algorithms: Type.Array(Type.String({ pattern: '^(RS|PS|ES)(256|384|512)$' }), {
      minItems: 1,
      default: ['RS256'],
      description: 'Accepted signature algorithms (asymmetric only).',
    }),
    roleSource: Type.Union([Type.Literal('realm'), Type.Literal('client')], {
      default: 'realm',
      description: '`realm`: realm_access.roles; `client`: resource_access.<clientId>.roles.',
    }),
    clientId: Type.Optional(
      Type.String({ minLength: 1, description: 'The client whose roles are read when roleSource is `client`.' }),
    ),
    roleMapping: Type.Record(Type.String(), Type.String(), {
      default: { 'muxly-admin': 'admin', 'muxly-editor': 'editor', 'muxly-viewer': 'viewer' },
      description: 'Keycloak role → Muxly role name (built-in or custom). Unmapped roles grant nothing.',
    }),
    consoleClientId: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: '^[\\x21-\\x7e]+$',
        description:
          "The realm's PUBLIC client the web console signs users in through (authorization code with PKCE); its redirect URI and web origin are the console's address. Unset: the console offers local sign-in only.",
      }),
    ),
  },
  { additionalProperties: false },
);

const AuthSettings = Section(
  {
    issuer: Type.String({
      minLength: 1,
      default: 'muxly-control-plane',
      description: '`iss` of the access tokens this control plane signs.',
    }),
    audience: Type.String({
      minLength: 1,
      default: 'muxly-api',
      description: '`aud` of the access tokens this control plane signs.',
    }),
    signingKey: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'PKCS#8 PEM of the Ed25519 key that signs access tokens (`openssl genpkey -algorithm ed25519`); every instance needs the same one. Unset: an ephemeral key (a warning; tokens die with the process).',
      }),
    ),
    accessTokenTtlSeconds: Type.Integer({
      minimum: 30,
      maximum: 3_600,
      default: 300,
      description: 'Lifetime of an access token.',
    }),
    refreshTokenTtlSeconds: Type.Integer({
      minimum: 300,
      default: 604_800,
      description: 'Lifetime of a login session (its refresh token rotates on every use).',
    }),
    bootstrapAdmin: Type.Optional(
      Type.Object(
        {
          email: Type.String({
            minLength: 3,
            pattern: '^[^@\\s]+@[^@\\s]+$',
            description: 'Login name of the first admin.',
          }),
          password: Type.String({ minLength: 12, description: 'Only used when the database has no user yet.' }),
        },
        { additionalProperties: false, description: 'The first admin, created at start when no user exists yet.' },
      ),
    ),
    lockout: Section(
      {
        maxFailuresPerAccount: Type.Integer({
          minimum: 1,
          default: 5,
          description: 'Failed logins for one user name within the window before it is locked.',
        }),
        maxFailuresPerAddress: Type.Integer({
          minimum: 1,
          default: 20,
          description: 'Failed logins from one client address within the window before it is locked.',
        }),
        windowSeconds: Type.Integer({
          minimum: 1,
          default: 900,
          description: 'How long failures count, and how long a lock lasts.',
        }),
      },
      'Slows password guessing: over a limit, logins answer 429 with Retry-After.',
    ),
    keycloak: Type.Optional(KeycloakSettings),
    serviceToken: Type.Optional(
      Type.String({
        minLength: 32,
        description:
          'Shared secret ingest presents to fetch the API key hashes. Unset: ingest uses only ingest.apiKeys.',
      }),
    ),
    apiKeySync: Section(
      {
        controlPlaneUrl: Type.String({
          pattern: '^https?://',
          default: 'http://127.0.0.1:8081',
          description: 'Where ingest fetches the API key hashes.',
        }),
        refreshIntervalSeconds: Type.Integer({
          minimum: 1,
          maximum: 3_600,
          default: 30,
          description:
            'How often ingest refreshes them: a revoked key stops working at ingest within this time plus one request timeout (at most 5 s).',
        }),
        cacheFile: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'File where ingest keeps the last fetched key hashes, so a restart during a control-plane outage still accepts them. Unset: memory only.',
          }),
        ),
      },
      'Ingest keeps the last fetched keys while the control plane is unreachable.',
    ),
  },
  'Local users, access tokens, Keycloak SSO and API keys (docs/security.md).',
);

export const ControlPlaneSettings = Section({
  http: HttpListener(8081, 'The control-plane REST API (also serves /healthz, /readyz, /metrics, /docs).'),
  database: Section({
    url: Type.String({ default: 'postgresql://postgres@127.0.0.1:5432/muxly' }),
    migrateOnStart: Type.Boolean({
      default: true,
      description: 'Apply pending migrations from migrations/ when the service starts.',
    }),
    poolMax: Type.Integer({ minimum: 1, default: 10 }),
  }),
  secrets: Section(
    {
      keys: Type.Array(SecretKeyEntry, {
        default: [],
        description:
          'Platform keys for connector and destination credentials. Empty: a fixed development key (logged as a warning; never for production).',
      }),
      activeKeyId: Type.Optional(
        Type.String({ description: 'The key new secrets are encrypted with; defaults to the last key listed.' }),
      ),
    },
    'AES-256-GCM encryption of credentials at rest and in the config topic.',
  ),
  services: Section(
    {
      ingestUrl: Type.String({
        default: 'http://127.0.0.1:8080',
        description: 'Base URL of ingest (its /readyz is polled by GET /api/v1/health).',
      }),
      transformerUrl: Type.String({ default: 'http://127.0.0.1:9101' }),
      routerUrl: Type.String({ default: 'http://127.0.0.1:9102' }),
      metricsIntervalSeconds: Type.Integer({
        minimum: 1,
        maximum: 300,
        default: 15,
        description:
          "How often each service's /metrics is read for the last hour's rates and lag (GET /api/v1/metrics/history, the console's overview).",
      }),
    },
    'Where the other services answer, for the health report and the metrics history.',
  ),
  scheduler: Section(
    {
      enabled: Type.Boolean({
        default: true,
        description:
          'Run cron schedules, dispatch executions and record job results in this instance (several instances may; each firing still runs once).',
      }),
      refreshIntervalMs: Type.Integer({
        minimum: 100,
        default: 5_000,
        description: 'How often the cron schedules are re-read from the database (changes made through any instance).',
      }),
      sweepIntervalMs: Type.Integer({
        minimum: 100,
        default: 1_000,
        description: 'How often due retries are dispatched and executions past their timeout are marked timed out.',
      }),
      webhookToleranceSeconds: Type.Integer({
        minimum: 1,
        default: 300,
        description: "Largest accepted difference between a webhook's signed timestamp and now.",
      }),
      webhookSecretGraceSeconds: Type.Integer({
        minimum: 0,
        default: 86_400,
        description: 'How long the previous webhook secret stays valid after it was changed.',
      }),
      webhookMaxBodyBytes: Type.Integer({
        minimum: 1_024,
        default: 1_048_576,
        description: 'Largest webhook request body.',
      }),
    },
    'Cron schedules, webhook triggers and job executions (docs/scheduling.md).',
  ),
  auth: AuthSettings,
  deadLetters: Section(
    {
      index: Type.Boolean({
        default: true,
        description:
          'Index the dead-letter topic into PostgreSQL in this instance (several instances share the work: one consumer group).',
      }),
      retentionDays: Type.Integer({
        minimum: 1,
        default: 30,
        description: 'How long indexed dead letters (resolved or not) are kept in the database before they are purged.',
      }),
      purgeIntervalSeconds: Type.Integer({
        minimum: 1,
        default: 3_600,
        description: 'How often dead letters older than retentionDays are purged.',
      }),
    },
    'Dead letters: list, resolve, replay (docs/operations.md).',
  ),
  tap: Section(
    {
      maxConcurrent: Type.Integer({
        minimum: 1,
        default: 5,
        description: 'Live taps (GET /api/v1/tap) open at once on one instance; more are answered 429.',
      }),
      maxEventsPerSecond: Type.Integer({
        minimum: 1,
        default: 50,
        description: 'Stream events one tap sends per second at most; the rest are counted in a "dropped" event.',
      }),
    },
    'The live tap (docs/operations.md "Live tap").',
  ),
  deletedDestinationGroupGraceSeconds: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      "How long a deleted destination's consumer group (its delivery position) is kept before it is removed; created again with the same id within it, the destination resumes there.",
  }),
  publishConfig: Type.Boolean({
    default: true,
    description: 'Publish every pipeline object to the compacted config topic (live reload).',
  }),
  maxPageSize: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
});
