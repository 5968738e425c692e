import pg from 'pg';
import { ConfigurationError, PermanentError } from '@muxly/common';
import { createForTest, randomSuffix, testItems } from '../test-context.ts';
import { databaseDestination } from './index.ts';

// Peer: the machine's PostgreSQL (DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres).
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const databaseName = `muxly_dest_${randomSuffix()}`;
const databaseUrl = (() => {
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  return url.toString();
})();

let admin: pg.Client;
let client: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${adminUrl} (${(error as Error).message}); start it (npm run stack:start) or set DATABASE_URL`,
    );
  }
  await admin.query(`CREATE DATABASE ${databaseName}`);
  client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(
    `CREATE TABLE events (id text PRIMARY KEY, name text NOT NULL, value double precision, env text, dimensions jsonb, plan varchar(3))`,
  );
});

afterAll(async () => {
  await client?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
  await admin?.end();
});

const config = (overrides: Record<string, unknown> = {}) => ({
  connectionString: databaseUrl,
  table: 'events',
  columns: {
    name: '$.name',
    value: '$.value',
    env: '$.dimensions.env',
    dimensions: '$.dimensions',
    plan: '$.attributes.plan',
  },
  ...overrides,
});

test('writes a batch with one multi-row insert and a redelivery writes nothing twice', async () => {
  const destination = await createForTest(databaseDestination, config());
  try {
    await destination.healthcheck();
    const items = testItems(250);
    expect(await destination.send(items)).toBeUndefined();
    // Redelivery of an overlapping range (at-least-once): the ids already stored are skipped.
    await destination.send([...items.slice(200), ...testItems(50, { firstOffset: 250 })]);
    const { rows } = await client.query(`SELECT count(*)::int AS count, count(DISTINCT id)::int AS ids FROM events`);
    expect(rows[0]).toEqual({ count: 300, ids: 300 });
    const row = await client.query(`SELECT * FROM events WHERE id = 'evt-0-3'`);
    expect(row.rows[0]).toEqual({
      id: 'evt-0-3',
      name: 'signup',
      value: 3.5,
      env: 'dev',
      dimensions: { env: 'dev', country: 'FR' },
      plan: 'pro',
    });
  } finally {
    await destination.close();
  }
});

test('onConflict update overwrites the mapped columns, and duplicate ids in one batch are accepted', async () => {
  const destination = await createForTest(databaseDestination, config({ onConflict: 'update' }));
  try {
    const [item] = testItems(1, { firstOffset: 1000 });
    await destination.send([item!]);
    const changed = { ...item!, event: { ...item!.event, name: 'renamed' } };
    await destination.send([changed, changed]);
    const { rows } = await client.query(`SELECT name FROM events WHERE id = $1`, [item!.id]);
    expect(rows).toEqual([{ name: 'renamed' }]);
  } finally {
    await destination.close();
  }
});

test('a row the table refuses is reported alone as a permanent failure; the others are written', async () => {
  const destination = await createForTest(databaseDestination, config());
  try {
    const items = testItems(5, { firstOffset: 2000 });
    (items[2]!.event as { attributes: Record<string, unknown> }).attributes.plan = 'enterprise'; // varchar(3)
    const result = await destination.send(items);
    expect(result?.failures?.map((failure) => failure.index)).toEqual([2]);
    expect(result?.failures?.[0]?.error).toBeInstanceOf(PermanentError);
    const { rows } = await client.query(`SELECT count(*)::int AS count FROM events WHERE id LIKE 'evt-0-200_'`);
    expect(rows[0].count).toBe(4);
  } finally {
    await destination.close();
  }
});

test('a missing table or column is a configuration error, in send and in healthcheck', async () => {
  const destination = await createForTest(databaseDestination, config({ table: 'nope' }));
  try {
    await expect(destination.healthcheck()).rejects.toBeInstanceOf(ConfigurationError);
    await expect(destination.send(testItems(1))).rejects.toBeInstanceOf(ConfigurationError);
  } finally {
    await destination.close();
  }
});

test('invalid configuration is refused at create', async () => {
  await expect(createForTest(databaseDestination, config({ columns: { id: '$.id' } }))).rejects.toThrow(
    'the id column always receives the event id',
  );
  await expect(createForTest(databaseDestination, config({ columns: { name: 'name' } }))).rejects.toBeInstanceOf(
    ConfigurationError,
  );
  await expect(createForTest(databaseDestination, config({ table: 'events; drop table x' }))).rejects.toBeInstanceOf(
    ConfigurationError,
  );
});
