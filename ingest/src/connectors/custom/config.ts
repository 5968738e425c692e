import { Type, type Static } from '@sinclair/typebox';
import { RetryPolicy } from '../toolkit/retry.ts';

// Config of the custom HTTP API connector. Templates in `url`, header values and `body` may use
// {{cursor}} (the resume value, after the lookback) and {{now}} (RFC 3339); values are
// URL-encoded in the URL.

const Path = (description: string) => Type.String({ minLength: 1, pattern: '^\\$', description });

const CustomAuth = Type.Union(
  [
    Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('apiKey'),
        in: Type.Union([Type.Literal('header'), Type.Literal('query')]),
        name: Type.String({ minLength: 1 }),
      },
      {
        additionalProperties: false,
        description: 'credentials.apiKey is sent in the named header or query parameter.',
      },
    ),
    Type.Object(
      { type: Type.Literal('bearer') },
      { additionalProperties: false, description: 'credentials.token as Authorization: Bearer.' },
    ),
    Type.Object(
      { type: Type.Literal('basic'), username: Type.String() },
      { additionalProperties: false, description: 'credentials.password.' },
    ),
    Type.Object(
      {
        type: Type.Literal('oauth2ClientCredentials'),
        tokenUrl: Type.String({ pattern: '^https?://' }),
        clientId: Type.String({ minLength: 1 }),
        scope: Type.Optional(Type.String()),
        clientAuthentication: Type.Union([Type.Literal('basic'), Type.Literal('body')], { default: 'basic' }),
      },
      { additionalProperties: false, description: 'credentials.clientSecret; the token is fetched once per sync.' },
    ),
  ],
  { default: { type: 'none' } },
);

const CustomPagination = Type.Union(
  [
    Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('cursor'),
        nextPath: Path('Where the next-page token (or next-page URL) is in the answer, e.g. $.meta.next.'),
        param: Type.String({ minLength: 1, default: 'cursor', description: 'Query parameter that carries the token.' }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('offset'),
        param: Type.String({ default: 'offset' }),
        limitParam: Type.String({ default: 'limit' }),
        limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('page'),
        param: Type.String({ default: 'page' }),
        startPage: Type.Integer({ minimum: 0, default: 1 }),
        sizeParam: Type.Optional(Type.String()),
        size: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      { type: Type.Literal('link') },
      { additionalProperties: false, description: 'Follows Link: <...>; rel="next".' },
    ),
  ],
  { default: { type: 'none' } },
);

const CustomMapping = Type.Object(
  {
    kind: Type.Union([Type.Literal('record'), Type.Literal('event'), Type.Literal('metric')], { default: 'record' }),
    name: Type.String({ minLength: 1, maxLength: 200, description: 'The unified event name.' }),
    idPath: Path('Primary key of a record, e.g. $.id.'),
    versionPath: Type.Optional(Path('Version of a record (defaults to cursorPath); a new version is a new event.')),
    timestampPath: Type.Optional(Path('When it happened (defaults to cursorPath; else the sync time).')),
    valuePath: Type.Optional(Path('The measurement, for metrics.')),
    unit: Type.Optional(Type.String({ maxLength: 50 })),
    dimensions: Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Path('A label value.'), { default: {} }),
    entityType: Type.Optional(
      Type.String({ minLength: 1, description: 'Sets entity { type, id: primary key } on records.' }),
    ),
  },
  { additionalProperties: false },
);

export const CustomHttpConfig = Type.Object(
  {
    stream: Type.String({ minLength: 1, maxLength: 100, default: 'default' }),
    method: Type.Union([Type.Literal('GET'), Type.Literal('POST')], { default: 'GET' }),
    url: Type.String({ minLength: 1, pattern: '^https?://', description: 'URL template.' }),
    headers: Type.Record(Type.String({ minLength: 1 }), Type.String(), { default: {} }),
    body: Type.Optional(Type.String({ description: 'Body template for POST (sent as application/json).' })),
    auth: CustomAuth,
    pagination: CustomPagination,
    recordSelector: Path('Selects the records in each answer, e.g. $.data[*].'),
    cursorPath: Type.Optional(Path('Field of a record that orders syncs, e.g. $.updated_at.')),
    startCursor: Type.Optional(Type.String({ description: 'The {{cursor}} of the first sync.' })),
    lookbackSeconds: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'Re-read this far behind a timestamp cursor.',
    }),
    sortedByCursor: Type.Boolean({
      default: true,
      description: 'Answers come in ascending cursor order, so each page may advance the stored cursor.',
    }),
    maxPages: Type.Integer({ minimum: 1, maximum: 100_000, default: 1_000 }),
    mapping: CustomMapping,
    retry: RetryPolicy,
  },
  { additionalProperties: false },
);
export type CustomHttpConfig = Static<typeof CustomHttpConfig>;

export const CustomHttpCredentials = Type.Object(
  {
    apiKey: Type.Optional(Type.String()),
    token: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    clientSecret: Type.Optional(Type.String()),
  },
  { additionalProperties: false, default: {} },
);
export type CustomHttpCredentials = Static<typeof CustomHttpCredentials>;
