import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { createLogger, loadSettings, type MuxlySettings } from '@muxly/common';
import { startIngest, type IngestService } from '../../ingest/src/service.ts';
import { startRouter, type RouterService } from '../../router/src/service.ts';
import { startTransformer, type TransformerService } from '../src/service.ts';
import { deleteTopicsAndGroups } from '../../test/support/kafka.ts';
import { KAFKA_BROKER, REGISTRY_URL, uniqueName, waitFor } from '../../test/support/services.ts';

// Finding 10c: an event's id is the writer's choice, so it is unique only within its source. Two
// writers (two API keys) send a metric with the same id through ingest's public API; the
// transformer's dedup window must not drop the second, and a database destination that upserts
// (onConflict: update) must not let the second overwrite the first. Both arrive, each intact.

const logger = createLogger({ service: 'event-id-scope-test', level: 'error', silent: true });
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const databaseName = `muxly_scope_${randomBytes(4).toString('hex')}`;
const databaseUrl = (() => {
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  return url.toString();
})();
const KEY_A = `mxk_test_${randomBytes(12).toString('hex')}`;
const KEY_B = `mxk_test_${randomBytes(12).toString('hex')}`;
const sha256 = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
const prefix = `${uniqueName('it-scope-')}.`;

let admin: pg.Client;
let client: pg.Client;
let settings: MuxlySettings;
let ingest: IngestService | undefined;
let transformer: TransformerService | undefined;
let router: RouterService | undefined;

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
    `CREATE TABLE metrics (id text PRIMARY KEY, event_id text, source_id text, value double precision)`,
  );

  settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      kafka: { brokers: [KAFKA_BROKER] },
      schemaRegistry: { url: REGISTRY_URL },
      topics: { prefix, partitions: 1 },
      ingest: {
        http: { port: 0 },
        apiKeys: [
          { id: 'writer-a', hash: sha256(KEY_A) },
          { id: 'writer-b', hash: sha256(KEY_B) },
        ],
      },
      transformer: { health: { port: 0 }, groupId: `${prefix}transformer`, instanceId: 'scope-1' },
      router: { health: { host: '127.0.0.1', port: 0 }, groupIdPrefix: `${prefix}router.` },
      pipeline: {
        destinations: [
          {
            id: 'db',
            type: 'database',
            config: {
              connectionString: databaseUrl,
              table: 'metrics',
              columns: { event_id: '$.id', source_id: '$.source.id', value: '$.value' },
              onConflict: 'update',
            },
          },
        ],
        rules: [{ id: 'all', destinationIds: ['db'] }],
      },
    },
  });
  ingest = await startIngest(settings, logger);
  transformer = await startTransformer(settings, logger);
  router = await startRouter(settings, logger);
});

afterAll(async () => {
  await router?.stop();
  await transformer?.stop();
  await ingest?.stop();
  await client?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
  await admin?.end();
  await deleteTopicsAndGroups([KAFKA_BROKER], { prefix });
});

async function post(key: string, metric: Record<string, unknown>): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${ingest!.port}/v1/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ metrics: [metric] }),
    signal: AbortSignal.timeout(20_000),
  });
  await response.body?.cancel();
  return response.status;
}

test("a writer reusing another source's event id neither drops nor overwrites that event", async () => {
  const timestamp = new Date().toISOString();
  expect(await post(KEY_A, { id: 'order-1', name: 'checkout.total', value: 42, timestamp })).toBe(202);
  await waitFor("writer A's row", async () => (await client.query('SELECT 1 FROM metrics')).rowCount === 1, 60_000);
  // Writer B replays the id it saw, with its own value.
  expect(await post(KEY_B, { id: 'order-1', name: 'checkout.total', value: 666, timestamp })).toBe(202);
  // A marker from B afterwards: once it is stored, B's order-1 has been through the pipeline too.
  expect(await post(KEY_B, { id: 'marker', name: 'checkout.total', value: 0, timestamp })).toBe(202);
  await waitFor(
    "writer B's marker",
    async () => (await client.query(`SELECT 1 FROM metrics WHERE event_id = 'marker'`)).rowCount === 1,
    60_000,
  );
  const { rows } = await client.query(
    `SELECT id, event_id, source_id, value FROM metrics WHERE event_id = 'order-1' ORDER BY source_id`,
  );
  expect(rows).toEqual([
    { id: 'api/writer-a/order-1', event_id: 'order-1', source_id: 'writer-a', value: 42 },
    { id: 'api/writer-b/order-1', event_id: 'order-1', source_id: 'writer-b', value: 666 },
  ]);
});
