import { Type, type Static } from '@sinclair/typebox';

const Identifier = Type.String({
  pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$',
  description: 'A plain SQL identifier (letters, digits, underscore).',
});

export const DatabaseDestinationConfig = Type.Object(
  {
    connectionString: Type.String({
      minLength: 1,
      pattern: '^(postgres|postgresql|mysql|mariadb)://',
      description:
        'postgres://user:password@host:5432/database, or mysql:// (or mariadb://) user:password@host:3306/database for MySQL and MariaDB; the scheme chooses the server (a credential: stored encrypted).',
    }),
    schema: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$',
        description:
          "The table's schema: `public` when absent on PostgreSQL; on MySQL/MariaDB a database, the connection string's when absent.",
      }),
    ),
    table: Identifier,
    idColumn: Type.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$',
      default: 'id',
      description:
        'Primary-key column that receives the event id scoped by its source (<source type>/<source id>/<id>); the upsert conflicts on it.',
    }),
    columns: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' }), Type.String({ pattern: '^\\$' }), {
      minProperties: 1,
      description:
        'Column name → JSONPath into the event, e.g. { "name": "$.name", "env": "$.dimensions.env" }. Objects and arrays are written as JSON text (use json/jsonb columns).',
    }),
    onConflict: Type.Union([Type.Literal('nothing'), Type.Literal('update')], {
      default: 'nothing',
      description: 'On a redelivered id: keep the stored row (nothing) or overwrite the mapped columns (update).',
    }),
    poolSize: Type.Integer({ minimum: 1, maximum: 50, default: 4 }),
    statementTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
    ssl: Type.Boolean({ default: false, description: 'Connect with TLS (certificates verified).' }),
  },
  { additionalProperties: false },
);
export type DatabaseDestinationConfig = Static<typeof DatabaseDestinationConfig>;
