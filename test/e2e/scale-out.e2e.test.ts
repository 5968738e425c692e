import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  freePort,
  KAFKA_BROKER,
  REGISTRY_URL,
  requireLocalStack,
  ServiceProcess,
  stopAllStartedProcesses,
  uniqueName,
  waitFor,
} from '../support/services.ts';

// Scaling out is running more instances: two transformers and two routers share the work through
// their consumer groups. Under a steady load the second instance of each starts mid-stream, then
// the first of each stops (SIGTERM); every accepted metric must reach the database destination
// exactly once (upsert on the event id) and the file destination at least once, with nothing
// that was not accepted.

const API_KEY = 'mxk_e2e_scale_out_0123456789';
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const databaseName = uniqueName('muxly_e2e_scale_');
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${databaseName}` }).toString();
let admin: pg.Client;
const began = Date.now();
const step = (what: string) =>
  process.stderr.write(`[scale-out +${((Date.now() - began) / 1000).toFixed(1)}s] ${what}\n`);

afterAll(async () => {
  await stopAllStartedProcesses();
  await admin?.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => undefined);
  await admin?.end();
});

/** A counter of a service's /metrics, summed over its label sets. */
async function counter(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

test('two transformers and two routers share the stream; one of each joins mid-stream and one stops: database exactly once, file at least once', async () => {
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

  const dir = mkdtempSync(join(tmpdir(), 'muxly-e2e-scale-'));
  const prefix = `${uniqueName('e2e-scale-')}.`;
  const ingestPort = await freePort();
  // Each instance has its own settings file: its own health port, transactional id and local
  // file (a file destination writes to the disk of the instance that delivers).
  const instance = async (index: number) => {
    const ports = { transformer: await freePort(), router: await freePort() };
    const eventsFile = join(dir, `events-${index}.jsonl`);
    const configFile = join(dir, `muxly-${index}.json`);
    writeFileSync(
      configFile,
      JSON.stringify({
        log: { level: 'warn' },
        kafka: { brokers: [KAFKA_BROKER] },
        schemaRegistry: { url: REGISTRY_URL },
        topics: { prefix, partitions: 3 },
        ingest: {
          http: { port: ingestPort },
          apiKeys: [{ id: 'e2e', hash: `sha256:${createHash('sha256').update(API_KEY).digest('hex')}` }],
        },
        transformer: {
          health: { port: ports.transformer },
          groupId: `${prefix}transformer`,
          instanceId: `e2e-scale-${index}`,
        },
        router: {
          health: { port: ports.router },
          groupIdPrefix: `${prefix}router.`,
          retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 2_000 },
        },
        outbound: { fileBaseDirectory: dir },
        pipeline: {
          destinations: [
            { id: 'file', type: 'file', config: { path: `events-${index}.jsonl` } },
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
          rules: [{ id: 'all', destinationIds: ['file', 'warehouse'] }],
        },
      }),
    );
    return { ports, eventsFile, env: { MUXLY_CONFIG: configFile } };
  };
  const first = await instance(1);
  const second = await instance(2);
  const start = async (name: 'ingest' | 'transformer' | 'router', of: typeof first) => {
    const service = new ServiceProcess(name, of.env).start();
    const port = name === 'ingest' ? ingestPort : of.ports[name];
    // A joining instance is ready once its group rebalanced, which waits for the members already in it.
    await service.waitUntilReady(`http://127.0.0.1:${port}/readyz`, 150_000);
    return service;
  };

  step('first instances starting');
  await start('ingest', first);
  const [transformer1, router1] = await Promise.all([start('transformer', first), start('router', first)]);

  // Load: small batches; only ids answered 202 are tracked (the promise covers accepted metrics).
  const accepted = new Set<string>();
  let running = true;
  let sequence = 0;
  const load = (async () => {
    while (running) {
      const metrics = Array.from({ length: 5 }, () => ({
        name: 'scale_test',
        value: sequence++,
        dimensions: { worker: String(sequence % 3) },
      }));
      try {
        const response = await fetch(`http://127.0.0.1:${ingestPort}/v1/metrics`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ metrics }),
          signal: AbortSignal.timeout(15_000),
        });
        if (response.status === 202)
          for (const id of ((await response.json()) as { ids: string[] }).ids) accepted.add(id);
        else await response.arrayBuffer();
      } catch {
        // Not accepted: not tracked.
      }
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  })();

  const rows = async () =>
    (await database.query<{ count: number }>('SELECT count(*)::int AS count FROM events')).rows[0]!.count;
  await waitFor('the first instances to deliver part of the stream', async () => (await rows()) > 50, 60_000);

  step('second instances starting mid-stream');
  await Promise.all([start('transformer', second), start('router', second)]);
  // Both second instances took a share: each wrote events / delivered some after it joined.
  await waitFor(
    'the second transformer to write events',
    async () => (await counter(second.ports.transformer, 'muxly_transformer_events_total')) > 0,
    90_000,
  );
  await waitFor(
    'the second router to deliver to the database',
    async () => (await counter(second.ports.router, 'muxly_router_delivered_total')) > 0,
    90_000,
  );
  const firstRouterBefore = await counter(first.ports.router, 'muxly_router_delivered_total');
  await waitFor(
    'the first router to go on delivering its share',
    async () => (await counter(first.ports.router, 'muxly_router_delivered_total')) > firstRouterBefore,
    60_000,
  );

  step('first instances stopping');
  const [transformerExit, routerExit] = await Promise.all([transformer1.stop(), router1.stop()]);
  expect(transformerExit.code).toBe(0);
  expect(routerExit.code).toBe(0);
  const countAtStop = accepted.size;
  const secondBefore = await counter(second.ports.router, 'muxly_router_delivered_total');
  await waitFor('more metrics accepted after the stop', async () => accepted.size > countAtStop + 100, 60_000);
  await waitFor(
    'the second router alone to go on delivering',
    async () => (await counter(second.ports.router, 'muxly_router_delivered_total')) > secondBefore + 100,
    90_000,
  );
  step('load stopping');
  running = false;
  await load;
  expect(accepted.size).toBeGreaterThan(200);

  const fileIds = () => {
    const counts = new Map<string, number>();
    for (const file of [first.eventsFile, second.eventsFile]) {
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        const { id } = JSON.parse(line) as { id: string };
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
    return counts;
  };
  await waitFor('every accepted metric in the database', async () => (await rows()) >= accepted.size, 90_000, 500);
  step('database complete');
  await waitFor(
    'every accepted metric in the file',
    async () => {
      const inFile = fileIds();
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
  // At least once in the file (both instances' files together): every accepted id, nothing else.
  const inFile = fileIds();
  expect([...accepted].filter((id) => !inFile.has(id))).toEqual([]);
  expect([...inFile.keys()].filter((id) => !accepted.has(id))).toEqual([]);
  const duplicates = [...inFile.values()].filter((count) => count > 1).length;
  step(`${accepted.size} accepted; file duplicates ${duplicates}`);
  await database.end();
}, 600_000);
