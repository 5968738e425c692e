import mysql from 'mysql2/promise';
import { ConfigurationError, PermanentError, RefusedError } from '@muxly/common';
import { createForTest, randomSuffix, testItems } from '../test-context.ts';
import { databaseDestination } from './index.ts';

// Peer: the machine's MariaDB or MySQL (MYSQL_URL or mysql://root@127.0.0.1:3306), a fresh
// database per run, and a user with fewer rights for the permission check.
const adminUrl = new URL(process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306');
const suffix = randomSuffix();
const databaseName = `muxly_dest_${suffix}`;
const readerUser = `muxly_ro_${suffix}`.slice(0, 32);
const urlFor = (options: { user?: string; password?: string; scheme?: string } = {}) => {
  const url = new URL(adminUrl.toString());
  url.pathname = `/${databaseName}`;
  if (options.user !== undefined) url.username = options.user;
  if (options.password !== undefined) url.password = options.password;
  const text = url.toString();
  return options.scheme ? text.replace(/^mysql:/, `${options.scheme}:`) : text;
};

let admin: mysql.Connection;

beforeAll(async () => {
  try {
    admin = await mysql.createConnection({
      host: adminUrl.hostname,
      port: Number(adminUrl.port || 3306),
      user: decodeURIComponent(adminUrl.username) || 'root',
      password: decodeURIComponent(adminUrl.password) || undefined,
      connectTimeout: 5000,
    });
  } catch (error) {
    throw new Error(
      `MariaDB/MySQL is not reachable at ${adminUrl.host} (${(error as Error).message}); start it (systemctl start mariadb) or set MYSQL_URL`,
    );
  }
  await admin.query(`CREATE DATABASE \`${databaseName}\``);
  await admin.query(
    `CREATE TABLE \`${databaseName}\`.events (id varchar(64) PRIMARY KEY, name text NOT NULL, value double, env text, dimensions json, plan varchar(3), happened_at datetime(3))`,
  );
  await admin.query(`CREATE USER '${readerUser}'@'%' IDENTIFIED BY 'reader-password'`);
  await admin.query(`GRANT SELECT ON \`${databaseName}\`.* TO '${readerUser}'@'%'`);
});

afterAll(async () => {
  await admin?.query(`DROP USER IF EXISTS '${readerUser}'@'%'`);
  await admin?.query(`DROP DATABASE IF EXISTS \`${databaseName}\``);
  await admin?.end();
});

const rows = async (sql: string, values: unknown[] = []) =>
  (await admin.query(sql.replaceAll('events', `\`${databaseName}\`.events`), values))[0] as Record<string, unknown>[];

const config = (overrides: Record<string, unknown> = {}) => ({
  connectionString: urlFor(),
  table: 'events',
  columns: {
    name: '$.name',
    value: '$.value',
    env: '$.dimensions.env',
    dimensions: '$.dimensions',
    plan: '$.attributes.plan',
    happened_at: '$.timestamp',
  },
  ...overrides,
});

test('writes a batch with one multi-row upsert and a redelivery writes nothing twice', async () => {
  const destination = await createForTest(databaseDestination, config());
  try {
    await destination.healthcheck();
    const items = testItems(250);
    expect(await destination.send(items)).toBeUndefined();
    // Redelivery of an overlapping range (at-least-once): the ids already stored are kept.
    await destination.send([...items.slice(200), ...testItems(50, { firstOffset: 250 })]);
    expect(await rows(`SELECT count(*) AS count, count(DISTINCT id) AS ids FROM events`)).toEqual([
      { count: 300, ids: 300 },
    ]);
    const [row] = await rows(
      `SELECT id, name, value, env, dimensions, plan, CAST(happened_at AS CHAR) AS happened_at FROM events WHERE id = 'evt-0-3'`,
    );
    expect(row).toEqual({
      id: 'evt-0-3',
      name: 'signup',
      value: 3.5,
      env: 'dev',
      dimensions: { env: 'dev', country: 'FR' },
      plan: 'pro',
      // The event's ISO UTC time, in a DATETIME(3) column.
      happened_at: '2026-11-23 10:00:00.000',
    });
  } finally {
    await destination.close();
  }
});

test('mariadb:// works too; onConflict update overwrites the mapped columns, duplicate ids in a batch are accepted', async () => {
  const destination = await createForTest(
    databaseDestination,
    config({ connectionString: urlFor({ scheme: 'mariadb' }), onConflict: 'update' }),
  );
  try {
    const [item] = testItems(1, { firstOffset: 1000 });
    await destination.send([item!]);
    const changed = { ...item!, event: { ...item!.event, name: 'renamed' } };
    await destination.send([changed, changed]);
    expect(await rows(`SELECT name FROM events WHERE id = ?`, [item!.id])).toEqual([{ name: 'renamed' }]);
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
    expect(await rows(`SELECT count(*) AS count FROM events WHERE id LIKE 'evt-0-200_'`)).toEqual([{ count: 4 }]);
  } finally {
    await destination.close();
  }
});

test('a missing table is a configuration error, in send and in healthcheck', async () => {
  const destination = await createForTest(databaseDestination, config({ table: 'nope' }));
  try {
    await expect(destination.healthcheck()).rejects.toBeInstanceOf(ConfigurationError);
    await expect(destination.send(testItems(1))).rejects.toBeInstanceOf(ConfigurationError);
  } finally {
    await destination.close();
  }
});

test('the health check names a missing right and a wrong password', async () => {
  const reader = await createForTest(
    databaseDestination,
    config({ connectionString: urlFor({ user: readerUser, password: 'reader-password' }) }),
  );
  try {
    const refused = await reader.healthcheck().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RefusedError);
    expect(refused).toMatchObject({ step: 'permission' });
  } finally {
    await reader.close();
  }
  const wrong = await createForTest(
    databaseDestination,
    config({ connectionString: urlFor({ user: readerUser, password: 'not-the-password' }) }),
  );
  try {
    await expect(wrong.healthcheck()).rejects.toMatchObject({ step: 'authenticate' });
  } finally {
    await wrong.close();
  }
});

test('identifiers and schemes outside the safe set are refused at create', async () => {
  await expect(createForTest(databaseDestination, config({ table: 'events`; drop table x' }))).rejects.toBeInstanceOf(
    ConfigurationError,
  );
  await expect(createForTest(databaseDestination, config({ schema: 'a b' }))).rejects.toBeInstanceOf(
    ConfigurationError,
  );
  await expect(
    createForTest(databaseDestination, config({ connectionString: 'sqlserver://root@127.0.0.1/x' })),
  ).rejects.toBeInstanceOf(ConfigurationError);
});
