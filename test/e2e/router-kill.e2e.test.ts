import pg from 'pg';
import { postMetrics, startPipeline } from '../support/pipeline.ts';
import { requireLocalStack, stopAllStartedProcesses, uniqueName, waitFor } from '../support/services.ts';

// The router is killed (SIGKILL, no graceful stop) in the middle of a stream; afterwards every
// accepted event is in the database destination exactly once (upsert on the event id) and in the
// file destination at least once.

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const databaseName = uniqueName('muxly_e2e_kill_');
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${databaseName}` }).toString();
let admin: pg.Client;
const began = Date.now();
const step = (what: string) =>
  process.stderr.write(`[router-kill +${((Date.now() - began) / 1000).toFixed(1)}s] ${what}\n`);

afterAll(async () => {
  await stopAllStartedProcesses();
  await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => undefined);
  await admin?.end();
});

test('SIGKILL of the router mid-stream: database exactly once, file at least once', async () => {
  await requireLocalStack();
  admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await admin.connect().catch((error: Error) => {
    throw new Error(
      `PostgreSQL is not reachable at ${adminUrl} (${error.message}); start it (npm run stack:start) or set DATABASE_URL`,
    );
  });
  await admin.query(`CREATE DATABASE ${databaseName}`);
  const database = new pg.Client({ connectionString: databaseUrl });
  await database.connect();
  await database.query(
    'CREATE TABLE events (id text PRIMARY KEY, event_id text NOT NULL, name text NOT NULL, value double precision, worker text)',
  );

  step('services starting');
  const pipeline = await startPipeline({
    prefix: 'e2e-kill-',
    destinations: [
      {
        id: 'warehouse',
        type: 'database',
        config: {
          connectionString: databaseUrl,
          table: 'events',
          columns: { event_id: '$.id', name: '$.name', value: '$.value', worker: '$.dimensions.worker' },
        },
      },
    ],
  });

  // Load: small batches; only ids answered 202 are tracked (the promise covers accepted metrics).
  const accepted = new Set<string>();
  let running = true;
  let sequence = 0;
  const load = (async () => {
    while (running) {
      const metrics = Array.from({ length: 5 }, () => ({
        name: 'kill_test',
        value: sequence++,
        dimensions: { worker: String(sequence % 3) },
      }));
      try {
        const response = await postMetrics(pipeline, { metrics });
        if (response.status === 202)
          for (const id of ((await response.json()) as { ids: string[] }).ids) accepted.add(id);
        else await response.arrayBuffer();
      } catch {
        // Not accepted: not tracked.
      }
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  })();

  step('router ready; load running');
  const rows = async () =>
    (await database.query<{ count: number }>('SELECT count(*)::int AS count FROM events')).rows[0]!.count;
  await waitFor('the router to deliver part of the stream', async () => (await rows()) > 50, 60_000);
  // NOTE: SIGKILL, not SIGTERM: nothing is flushed or committed; in-flight batches are redelivered.
  step('killing the router');
  const router = pipeline.service('router');
  router.child!.kill('SIGKILL');
  expect(await router.exit).toEqual({ code: null, signal: 'SIGKILL' });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await pipeline.restart('router');
  step('router restarted');
  const countAtRestart = accepted.size;
  await waitFor('more metrics accepted after the restart', async () => accepted.size > countAtRestart + 50, 60_000);
  step('load stopping');
  running = false;
  await load;
  expect(accepted.size).toBeGreaterThan(100);

  await waitFor('every accepted metric in the database', async () => (await rows()) >= accepted.size, 90_000, 500);
  step('database complete');
  await waitFor(
    'every accepted metric in the file',
    async () => {
      const inFile = pipeline.deliveredIds();
      return [...accepted].every((id) => inFile.has(id));
    },
    60_000,
    1_000,
  );

  // Exactly once in the database: every accepted id, nothing else, no id twice (primary key).
  // The key column holds the id scoped by its source (one API key here); event_id the bare id.
  const stored = (await database.query<{ id: string; event_id: string }>('SELECT id, event_id FROM events')).rows;
  expect(stored.length).toBe(accepted.size);
  expect(new Set(stored.map((row) => row.event_id))).toEqual(accepted);
  expect(stored.filter((row) => row.id !== `api/e2e/${row.event_id}`)).toEqual([]);
  // At least once in the file: every accepted id, and nothing that was not accepted.
  const inFile = pipeline.deliveredIds();
  expect([...accepted].filter((id) => !inFile.has(id))).toEqual([]);
  expect([...inFile.keys()].filter((id) => !accepted.has(id))).toEqual([]);
  await database.end();
}, 180_000);
