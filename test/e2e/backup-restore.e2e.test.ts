import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../control-plane/test/database.ts';
import { postMetrics, startPipeline } from '../support/pipeline.ts';
import {
  freePort,
  KAFKA_BROKER,
  requireLocalStack,
  ROOT,
  ServiceProcess,
  stopAllStartedProcesses,
  uniqueName,
  waitFor,
} from '../support/services.ts';

// deploy/scripts/backup.sh and restore.sh for real: a control plane with pipeline objects and a
// schema registry with schemas are backed up, wiped, restored into an empty database and an empty
// registry, and found again: the same objects, the same schema ids, the jobs with their
// executions, and a pipeline that delivers to the restored destination once the restored control
// plane republishes the configuration.

const run = promisify(execFile);
const ADMIN = { username: 'backup-admin@muxly.test', password: 'backup-test-password-1234' };
let database: TestDatabase;
const dir = mkdtempSync(join(tmpdir(), 'muxly-backup-e2e-'));
// A PRIVATE Kafka and schema registry (own folder and ports), so the registry can be emptied.
const privateDir = mkdtempSync(join(tmpdir(), 'muxly-backup-stack-'));
const ports = { kafka: 0, controller: 0, registry: 0, registryManagement: 0 };
const registryBase = () => `http://127.0.0.1:${ports.registry}`;
const stack = (...args: string[]) =>
  run('bash', [join(ROOT, 'deploy', 'local', 'stack.sh'), ...args], {
    cwd: ROOT,
    timeout: 420_000,
    env: {
      ...process.env,
      MUXLY_LOCAL_DIR: privateDir,
      MUXLY_KAFKA_PORT: String(ports.kafka),
      MUXLY_KAFKA_CONTROLLER_PORT: String(ports.controller),
      MUXLY_REGISTRY_PORT: String(ports.registry),
      MUXLY_REGISTRY_MGMT_PORT: String(ports.registryManagement),
      // A JVM can take minutes to start on a busy 2-core machine.
      MUXLY_START_TIMEOUT: '360',
    },
  });

beforeAll(async () => {
  await requireLocalStack();
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  await stack('start', 'kafka', 'registry');
  database = await createTestDatabase();
}, 900_000);

afterAll(async () => {
  await stopAllStartedProcesses();
  await database?.drop();
  await stack('stop', 'registry', 'kafka').catch(() => undefined);
  rmSync(privateDir, { recursive: true, force: true });
}, 180_000);

/** A control plane process on `database`, publishing its configuration under `prefix`. */
async function startControlPlane(prefix: string) {
  const port = await freePort();
  const settingsFile = join(dir, `control-plane-${prefix}json`);
  writeFileSync(
    settingsFile,
    JSON.stringify({
      log: { level: 'warn' },
      kafka: { brokers: [KAFKA_BROKER] },
      topics: { prefix, partitions: 1 },
      controlPlane: {
        http: { port },
        database: { url: database.url, poolMax: 4 },
        auth: { bootstrapAdmin: { email: ADMIN.username, password: ADMIN.password } },
      },
    }),
  );
  const service = new ServiceProcess('control-plane', { MUXLY_CONFIG: settingsFile }).start();
  const url = `http://127.0.0.1:${port}`;
  await service.waitUntilReady(`${url}/readyz`);
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  expect(login.status).toBe(200);
  const { accessToken } = (await login.json()) as { accessToken: string };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, unknown> };
  };
  return { service, call, settingsFile };
}

const script = (name: string, args: string[]) =>
  run('bash', [join(ROOT, 'deploy', 'scripts', name), ...args], { cwd: ROOT, timeout: 300_000 });

async function registerSchema(subject: string, schema: object): Promise<number> {
  const response = await fetch(`${registryBase()}/apis/ccompat/v7/subjects/${subject}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(schema) }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { id: number }).id;
}

const subjects = async () => (await (await fetch(`${registryBase()}/apis/ccompat/v7/subjects`)).json()) as string[];

test('backup, wipe, restore: the same objects, schema ids and jobs, and the pipeline delivers again', async () => {
  // 1. A control plane with pipeline objects, and a registry with schemas.
  const before = await startControlPlane(`${uniqueName('backup-a-')}.`);
  const destination = await before.call('POST', '/destinations', {
    id: 'archive',
    name: 'archive',
    type: 'file',
    // Relative to the router's outbound.fileBaseDirectory (the pipeline's folder, below).
    config: { path: 'restored-destination.jsonl' },
  });
  expect(destination).toMatchObject({ status: 201 });
  const rule = await before.call('POST', '/routing-rules', {
    id: 'signups',
    name: 'signups to the archive',
    priority: 10,
    condition: { path: '$.name', op: 'eq', value: 'backup.signup' },
    destinationIds: ['archive'],
  });
  expect(rule).toMatchObject({ status: 201 });
  const connector = await before.call('POST', '/connectors', {
    id: 'crm',
    name: 'crm',
    type: 'custom',
    config: {
      stream: 'items',
      url: 'https://crm.example/items',
      recordSelector: '$.data[*]',
      cursorPath: '$.updated_at',
      startCursor: '2000-01-01T00:00:00Z',
      mapping: { kind: 'record', name: 'item.updated', idPath: '$.id', entityType: 'item' },
    },
  });
  expect(connector).toMatchObject({ status: 201 });
  const job = await before.call('POST', '/jobs', {
    id: 'crm-nightly',
    name: 'crm nightly',
    connectorId: 'crm',
    schedule: '0 3 * * *',
    timezone: 'Europe/Paris',
  });
  expect(job).toMatchObject({ status: 201 });
  const run1 = await before.call('POST', '/jobs/crm-nightly/run');
  expect(run1).toMatchObject({ status: 202 });
  const objects = async (call: typeof before.call) => ({
    destinations: (await call('GET', '/destinations')).body,
    rules: (await call('GET', '/routing-rules')).body,
    connectors: (await call('GET', '/connectors')).body,
    job: (await call('GET', '/jobs/crm-nightly')).body,
    executions: (await call('GET', '/jobs/crm-nightly/executions')).body,
  });
  const saved = await objects(before.call);
  expect(JSON.stringify(saved.executions)).toContain('crm-nightly');

  const eventsId = await registerSchema('backup-events-value', {
    type: 'object',
    properties: { a: { type: 'string' } },
  });
  const otherId = await registerSchema('backup-other-value', { type: 'object', properties: { b: { type: 'number' } } });
  expect(otherId).not.toBe(eventsId);
  await before.service.stop();

  // 2. Back up.
  const backupDir = join(dir, 'backup');
  const settingsFile = before.settingsFile;
  await script('backup.sh', [
    '--database-url',
    database.url,
    '--registry-url',
    registryBase(),
    '--settings',
    settingsFile,
    '--out',
    backupDir,
  ]);
  for (const file of ['control-plane.dump', 'registry.zip', 'settings.yaml', 'SHA256SUMS'])
    expect({ file, exists: existsSync(join(backupDir, file)) }).toEqual({ file, exists: true });

  // 3. Wipe: an empty database of the same name, and an empty registry (its journal topics gone).
  await database.drop();
  const admin = new pg.Client({ connectionString: database.url.replace(`/${database.name}`, '/postgres') });
  await admin.connect();
  await admin.query(`create database ${database.name}`);
  await admin.end();
  await stack('stop', 'registry');
  const kafka = new Kafka({ brokers: [`127.0.0.1:${ports.kafka}`], logLevel: logLevel.NOTHING });
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const journal = (await kafkaAdmin.listTopics()).filter((topic) => topic.startsWith('kafkasql'));
  expect(journal.length).toBeGreaterThan(0);
  await kafkaAdmin.deleteTopics({ topics: journal });
  await kafkaAdmin.disconnect();
  await stack('start', 'registry');
  expect(await subjects()).toEqual([]);

  // The dry run shows the steps and changes nothing.
  const restoreArgs = ['--from', backupDir, '--database-url', database.url, '--registry-url', registryBase()];
  const dry = await script('restore.sh', [...restoreArgs, '--dry-run']);
  expect(dry.stdout).toContain('+ pg_restore --exit-on-error --no-owner --no-privileges');
  expect(dry.stdout).toContain('/apis/registry/v3/admin/import');
  expect(await subjects()).toEqual([]);

  // 4. Restore, and the settings file with it.
  const restoredSettings = join(dir, 'restored-settings.yaml');
  await script('restore.sh', [...restoreArgs, '--settings-to', restoredSettings]);
  expect(readFileSync(restoredSettings, 'utf8')).toBe(readFileSync(settingsFile, 'utf8'));
  // A second restore into the now non-empty targets is refused.
  await expect(script('restore.sh', restoreArgs)).rejects.toThrow(/restore into an empty database/);

  // The schemas, with their ids.
  expect((await subjects()).sort()).toEqual(['backup-events-value', 'backup-other-value']);
  const byId = async (id: number) =>
    (await (await fetch(`${registryBase()}/apis/ccompat/v7/schemas/ids/${id}`)).json()) as { schema: string };
  expect(JSON.parse((await byId(eventsId)).schema)).toEqual({ type: 'object', properties: { a: { type: 'string' } } });
  expect(JSON.parse((await byId(otherId)).schema)).toEqual({ type: 'object', properties: { b: { type: 'number' } } });

  // 5. A pipeline on fresh topics, and the control plane started on the restored database: it
  // republishes the configuration, and the router delivers to the restored destination.
  const pipeline = await startPipeline();
  const eventsFile = join(pipeline.dir, 'restored-destination.jsonl');
  const after = await startControlPlane(pipeline.prefix);
  const restored = await objects(after.call);
  expect(restored).toEqual(saved);
  // The execution recorded before the backup is the only one of its cron instant: the database
  // keeps refusing a second execution for the same job and instant after the restore.
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const indexes = await client.query(
      `select indexdef from pg_indexes where indexname = 'job_executions_tick_uq' and indexdef ilike '%unique%(job_id, scheduled_for)%'`,
    );
    expect(indexes.rowCount).toBeGreaterThan(0);
  } finally {
    await client.end();
  }

  const response = await postMetrics(pipeline, { name: 'backup.signup', value: 1 });
  expect(response.status).toBe(202);
  const { ids } = (await response.json()) as { ids: string[] };
  await waitFor(
    'the metric in the restored file destination',
    async () => existsSync(eventsFile) && readFileSync(eventsFile, 'utf8').includes(ids[0]!),
    90_000,
  );
}, 900_000);
