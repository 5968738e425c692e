import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { signWebhook } from '../../control-plane/src/hooks/signature.ts';
import { createTestDatabase, type TestDatabase } from '../../control-plane/test/database.ts';
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
import { callApi } from '../support/api.ts';

// The scheduler end to end, every service a process: two control-plane instances sharing one
// database, ingest running the custom-HTTP connector against a local JSON API, transformer and
// router delivering to a file. A job runs manually, by webhook and by cron; the records land in
// the file and the executions are recorded with their counts; failures are recorded as such.

interface Item {
  id: string;
  updated_at: string;
  plan: string;
}
const items: Item[] = [];
const addItems = (count: number) => {
  for (let index = 0; index < count; index += 1) {
    const n = items.length + 1;
    items.push({
      id: `item-${n}`,
      updated_at: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
      plan: n % 2 ? 'pro' : 'free',
    });
  }
};
const hanging = new Set<ServerResponse>();

/** The third-party API: /items?since=<cursor> (strictly after), /unauthorized (401), /broken (500), /slow (never answers). */
function handle(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const json = (status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  if (url.pathname === '/items') {
    const since = url.searchParams.get('since') ?? '';
    return json(200, { data: items.filter((item) => item.updated_at > since) });
  }
  if (url.pathname === '/unauthorized') return json(401, { error: 'invalid token' });
  if (url.pathname === '/broken') return json(500, { error: 'database unavailable' });
  if (url.pathname === '/slow') return void hanging.add(response);
  json(404, { error: 'not found' });
}

let api: Server;
let apiUrl: string;
let database: TestDatabase;
let db: pg.Client;
let eventsFile: string;
const controlPlanes: string[] = [];
const tokens: string[] = [];
const ADMIN = { username: 'admin@example.com', password: 'e2e-admin-password-0123' };

/** The token of an instance (each signs its own tokens: no shared signing key here). */
const tokenOf = (instance: number): string => {
  const token = tokens[instance];
  if (!token) throw new Error(`no token for control-plane instance ${instance}: its sign-in failed`);
  return token;
};
const auth = (instance: number): Record<string, string> => ({ authorization: `Bearer ${tokenOf(instance)}` });

const call = (method: string, path: string, body?: unknown, instance = 0) =>
  callApi(controlPlanes[instance]!, method, path, { body, token: tokenOf(instance), timeoutMs: 15_000 });

const connector = (id: string, path: string, retry = { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 100 }) => ({
  id,
  name: id,
  type: 'custom',
  config: {
    stream: 'items',
    url: `${apiUrl}${path}`,
    recordSelector: '$.data[*]',
    cursorPath: '$.updated_at',
    startCursor: '2000-01-01T00:00:00Z',
    mapping: {
      kind: 'record',
      name: 'item.updated',
      idPath: '$.id',
      entityType: 'item',
      dimensions: { plan: '$.plan' },
    },
    retry,
  },
});

const execution = async (id: string) => (await call('GET', `/api/v1/executions/${id}`)).body;
const finished = (id: string, timeoutMs = 40_000) =>
  waitFor(
    `execution ${id} to end`,
    async () => {
      const current = await execution(id);
      return ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(current.status) ? current : undefined;
    },
    timeoutMs,
  );
const deliveredIds = () =>
  existsSync(eventsFile)
    ? readFileSync(eventsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { id: string; attributes: { id?: string } }).id)
    : [];

beforeAll(async () => {
  await requireLocalStack();
  api = createServer(handle);
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  database = await createTestDatabase();
  db = new pg.Client({ connectionString: database.url });

  const dir = mkdtempSync(join(tmpdir(), 'muxly-scheduler-e2e-'));
  const prefix = `${uniqueName('e2e-sched-')}.`;
  eventsFile = join(dir, 'events.jsonl');
  const ports = {
    ingest: await freePort(),
    transformer: await freePort(),
    router: await freePort(),
    cp: [await freePort(), await freePort()],
  };
  const settings = {
    // Info, so a service that does not become ready shows how far its start got (CI once saw the
    // transformer silent for a minute at level warn); the output is printed only on a failure.
    log: { level: 'info' },
    kafka: { brokers: [KAFKA_BROKER] },
    schemaRegistry: { url: REGISTRY_URL },
    topics: { prefix, partitions: 2 },
    ingest: {
      http: { port: ports.ingest },
      jobs: { httpTimeoutMs: 10_000, progressIntervalMs: 0 },
    },
    transformer: { health: { port: ports.transformer }, groupId: `${prefix}transformer`, instanceId: 'e2e-1' },
    router: { health: { port: ports.router }, groupIdPrefix: `${prefix}router.` },
    controlPlane: {
      database: { url: database.url, poolMax: 4 },
      scheduler: { refreshIntervalMs: 500, sweepIntervalMs: 500 },
      auth: { bootstrapAdmin: { email: ADMIN.username, password: ADMIN.password } },
    },
    outbound: { fileBaseDirectory: dir, allowAddresses: ['127.0.0.0/8'] },
    pipeline: {
      destinations: [{ id: 'file', type: 'file', config: { path: 'events.jsonl' } }],
      rules: [{ id: 'all', destinationIds: ['file'] }],
    },
  };
  const configFile = join(dir, 'muxly.json');
  writeFileSync(configFile, JSON.stringify(settings, null, 2));
  const env = { MUXLY_CONFIG: configFile };
  const services = (['ingest', 'transformer', 'router'] as const).map((name) => new ServiceProcess(name, env).start());
  await Promise.all(
    services.map((service, index) =>
      service.waitUntilReady(`http://127.0.0.1:${[ports.ingest, ports.transformer, ports.router][index]}/readyz`),
    ),
  );
  // The first instance migrates the fresh database, then the second joins it.
  for (const port of ports.cp) {
    const controlPlane = new ServiceProcess('control-plane', {
      ...env,
      MUXLY_CONTROL_PLANE__HTTP__PORT: String(port),
    }).start();
    await controlPlane.waitUntilReady(`http://127.0.0.1:${port}/readyz`);
    controlPlanes.push(`http://127.0.0.1:${port}`);
    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    // The settings above bootstrap an admin: sign-in must work (a 404 here is a failure, not an open API).
    expect(login.status).toBe(200);
    tokens.push(((await login.json()) as { accessToken: string }).accessToken);
  }
  await db.connect();
}, 180_000);

afterAll(async () => {
  for (const response of hanging) response.destroy();
  await stopAllStartedProcesses();
  await db?.end().catch(() => undefined);
  await database?.drop();
  if (api) {
    api.closeAllConnections();
    await new Promise((resolve) => api.close(resolve));
  }
});

test('manual, webhook and cron runs deliver the records and are recorded as succeeded with their counts', async () => {
  addItems(3);
  expect((await call('POST', '/api/v1/connectors', connector('crm', '/items?since={{cursor}}'))).status).toBe(201);
  expect(
    (
      await call('POST', '/api/v1/jobs', {
        id: 'crm-sync',
        name: 'crm sync',
        connectorId: 'crm',
        maxRetries: 0,
        timeoutSeconds: 60,
      })
    ).status,
  ).toBe(201);

  // Manual, with parameters, on the second instance.
  const manual = await call('POST', '/api/v1/jobs/crm-sync/run', { params: { reason: 'e2e' } }, 1);
  expect(manual.status).toBe(202);
  expect(manual.body).toMatchObject({ status: 'queued', triggeredBy: 'manual', attempt: 1 });
  const first = await finished(manual.body.id);
  expect(first).toMatchObject({
    status: 'succeeded',
    counts: { recordsRead: 3, recordsPublished: 3, pages: 1, streams: { items: 3 } },
    error: null,
  });
  expect(first.startedAt).not.toBeNull();
  expect(first.endedAt).not.toBeNull();
  expect(first.progress).toMatchObject({ records: 3, pages: 1, cursor: { value: items[2]!.updated_at } });
  const state = await db.query(`select state from connectors where id = 'crm'`);
  expect(state.rows[0].state.cursor).toEqual({ value: items[2]!.updated_at });
  await waitFor('the three records in the file destination', async () => deliveredIds().length >= 3, 30_000);

  // Webhook: only the records after the stored cursor are read.
  addItems(2);
  const trigger = await call('POST', '/api/v1/webhook-triggers', {
    id: 'crm-hook',
    jobId: 'crm-sync',
    path: 'crm/updated',
    secret: 'e2e-webhook-secret-0123456789',
  });
  expect(trigger.status).toBe(201);
  const body = JSON.stringify({ event: 'crm.updated' });
  const timestamp = Math.floor(Date.now() / 1000);
  const hook = await fetch(`${controlPlanes[0]}/hooks/crm/updated`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'muxly-delivery-id': 'delivery-1',
      'muxly-timestamp': String(timestamp),
      'muxly-signature': `v1=${signWebhook('e2e-webhook-secret-0123456789', 'delivery-1', timestamp, body)}`,
    },
    body,
  });
  expect(hook.status).toBe(202);
  const hooked = await finished(((await hook.json()) as { executionId: string }).executionId);
  expect(hooked).toMatchObject({
    status: 'succeeded',
    triggeredBy: 'webhook',
    counts: { recordsRead: 2, recordsPublished: 2 },
  });
  await waitFor('five records in the file destination', async () => deliveredIds().length >= 5, 30_000);

  // Cron every 5 seconds, fired by two control-plane instances: one execution per tick.
  const job = await call('GET', '/api/v1/jobs/crm-sync');
  const version = job.body.version as number;
  const scheduled = await fetch(`${controlPlanes[1]}/api/v1/jobs/crm-sync`, {
    method: 'PATCH',
    headers: { ...auth(1), 'content-type': 'application/json', 'if-match': `"${version}"` },
    body: JSON.stringify({ schedule: '*/5 * * * * *' }),
  });
  expect(scheduled.status).toBe(200);
  const withSchedule = (await scheduled.json()) as { nextRunAt: string; nextRuns: string[] };
  expect(withSchedule.nextRuns).toHaveLength(3);
  expect(Date.parse(withSchedule.nextRuns[1]!) - Date.parse(withSchedule.nextRuns[0]!)).toBe(5_000);
  addItems(1);
  const ticks = await waitFor(
    'two cron executions that succeeded',
    async () => {
      const list = await call('GET', '/api/v1/jobs/crm-sync/executions?triggeredBy=schedule&status=succeeded');
      return list.body.items.length >= 2 ? list.body.items : undefined;
    },
    40_000,
  );
  const disabled = await call('GET', '/api/v1/jobs/crm-sync');
  await fetch(`${controlPlanes[0]}/api/v1/jobs/crm-sync`, {
    method: 'PATCH',
    headers: { ...auth(0), 'content-type': 'application/json', 'if-match': `"${disabled.body.version as number}"` },
    body: JSON.stringify({ enabled: false }),
  });
  const rows = (
    await db.query(
      `select scheduled_for from job_executions where job_id = 'crm-sync' and triggered_by = 'schedule' order by scheduled_for`,
    )
  ).rows as { scheduled_for: Date }[];
  const instants = rows.map((row) => row.scheduled_for.getTime());
  expect(new Set(instants).size).toBe(instants.length);
  for (const instant of instants) expect(instant % 5_000).toBe(0);
  expect(
    ticks.reduce(
      (sum: number, tick: { counts: { recordsPublished: number } }) => sum + tick.counts.recordsPublished,
      0,
    ),
  ).toBe(1);
  await waitFor('six distinct records in the file destination', async () => new Set(deliveredIds()).size >= 6, 30_000);
  expect(new Set(deliveredIds()).size).toBe(6);
});

test('a connector error fails the execution without retries (a retry cannot fix it)', async () => {
  expect((await call('POST', '/api/v1/connectors', connector('locked', '/unauthorized'))).status).toBe(201);
  expect(
    (
      await call('POST', '/api/v1/jobs', {
        id: 'locked-sync',
        name: 'locked sync',
        connectorId: 'locked',
        maxRetries: 2,
        backoff: { initialSeconds: 1 },
      })
    ).status,
  ).toBe(201);
  const run = await call('POST', '/api/v1/jobs/locked-sync/run');
  const result = await finished(run.body.id);
  expect(result).toMatchObject({ status: 'failed', attempt: 1 });
  expect(result.error).toContain('HTTP 401');
  expect(result.error).toContain('not retried');
  // "not retried" is written in the transaction that would have queued the retry: none can come later.
  expect((await call('GET', '/api/v1/jobs/locked-sync/executions')).body.items).toHaveLength(1);
});

test('a transient failure is retried per the job until the retries are exhausted', async () => {
  expect((await call('POST', '/api/v1/connectors', connector('flaky', '/broken'))).status).toBe(201);
  expect(
    (
      await call('POST', '/api/v1/jobs', {
        id: 'flaky-sync',
        name: 'flaky sync',
        connectorId: 'flaky',
        maxRetries: 2,
        backoff: { initialSeconds: 1, multiplier: 1 },
      })
    ).status,
  ).toBe(201);
  await call('POST', '/api/v1/jobs/flaky-sync/run');
  const attempts = await waitFor(
    'three failed attempts',
    async () => {
      const list = (await call('GET', '/api/v1/jobs/flaky-sync/executions?sort=createdAt')).body.items as {
        status: string;
        attempt: number;
        triggeredBy: string;
        error: string;
      }[];
      return list.length === 3 && list.every((item) => item.status === 'failed') ? list : undefined;
    },
    60_000,
  );
  expect(attempts.map((item) => [item.attempt, item.triggeredBy])).toEqual([
    [1, 'manual'],
    [2, 'retry'],
    [3, 'retry'],
  ]);
  expect(attempts[0]!.error).toContain('500');
  expect(attempts[2]!.error).toContain('retries exhausted after 3 attempts');
});

test('a run past its timeout is marked timed out and stopped; a running one can be cancelled', async () => {
  expect((await call('POST', '/api/v1/connectors', connector('slow', '/slow'))).status).toBe(201);
  expect(
    (
      await call('POST', '/api/v1/jobs', {
        id: 'slow-sync',
        name: 'slow sync',
        connectorId: 'slow',
        maxRetries: 0,
        timeoutSeconds: 3,
      })
    ).status,
  ).toBe(201);
  const run = await call('POST', '/api/v1/jobs/slow-sync/run');
  const result = await finished(run.body.id, 30_000);
  expect(result).toMatchObject({ status: 'timed_out' });
  expect(result.error).toContain('timed out');
  // ingest stopped the sync and reported what it had published (nothing); the status stays timed_out.
  await waitFor(
    'the stopped sync to report',
    async () => Object.keys((await execution(run.body.id)).counts).length > 0,
    15_000,
  );
  expect((await execution(run.body.id)).status).toBe('timed_out');

  expect(
    (
      await call('POST', '/api/v1/jobs', {
        id: 'slow-cancel',
        name: 'slow cancel',
        connectorId: 'slow',
        maxRetries: 3,
        timeoutSeconds: 120,
      })
    ).status,
  ).toBe(201);
  const second = await call('POST', '/api/v1/jobs/slow-cancel/run');
  await waitFor('the sync to start', async () => (await execution(second.body.id)).status === 'running', 20_000);
  const cancelled = await call('POST', `/api/v1/executions/${second.body.id}/cancel`, undefined, 1);
  expect(cancelled.status).toBe(200);
  expect(cancelled.body).toMatchObject({ status: 'cancelled' });
  expect((await call('POST', `/api/v1/executions/${second.body.id}/cancel`)).status).toBe(409);
  // The only later event that could queue a retry is ingest's report of the stopped sync: wait for it.
  await waitFor(
    'the cancelled sync to report',
    async () => Object.keys((await execution(second.body.id)).counts).length > 0,
    15_000,
  );
  expect((await execution(second.body.id)).status).toBe('cancelled');
  expect((await call('GET', '/api/v1/jobs/slow-cancel/executions')).body.items).toHaveLength(1);
});
