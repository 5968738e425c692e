import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, createLogger, ForbiddenDatabases, loadSettings, topicNames } from '@muxly/common';
import { startRouter } from '@muxly/router';
import { runConnectionTest } from '../../src/diagnosis/connection-test.ts';
import { TemplateCatalog } from '../../src/templates/catalog.ts';
import { loadTemplates } from '../../src/templates/sources.ts';
import { waitFor } from '../../../test/support/services.ts';
import { ADMIN, queryRows, startAuthHarness, type AuthHarness } from '../auth/support.ts';
import { createTestDatabase, type TestDatabase } from '../database.ts';
import { idsInFile, produceEvent } from '../events.ts';
import { expectProblem } from '../harness.ts';

// Finding 1: an editor points a database destination at the control plane's own PostgreSQL to
// insert a row into `api_keys` (a credential with scopes of their choosing). The control plane
// refuses it when saved, whatever the spelling of the host; the connection test refuses it before
// connecting; and a router given such a destination (saved before the rule, or configured apart)
// does not start it, writes nothing there and keeps delivering to the others.

const logger = createLogger({ service: 'cp-database-test', level: 'error', silent: true });
let harness: AuthHarness;
let editor: string;
let other: TestDatabase;

beforeAll(async () => {
  harness = await startAuthHarness({}, { templates: await loadTemplates(logger) });
  other = await createTestDatabase();
  const admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  const created = await harness.api('POST', '/api/v1/users', {
    token: admin,
    body: { username: 'eddie', password: 'eddie-password-123', roles: ['editor'] },
  });
  expect(created.status).toBe(201);
  editor = (await harness.login('eddie', 'eddie-password-123')).accessToken;
});
afterAll(async () => {
  await harness?.close();
  await other?.drop();
});

/** The control plane's database reached through another spelling of the same host. */
const controlPlaneDatabase = (host: string, port = ':5432') =>
  `postgres://postgres@${host}${port}/${harness.database.name}`;
const attack = (connectionString: string, name = 'pwn') => ({
  name,
  type: 'database',
  config: {
    table: 'api_keys',
    columns: { name: '$.name', scopes: '$.attributes.scopes' },
  },
  credentials: { connectionString },
});
const keyCount = async () =>
  (await queryRows<{ count: number }>(harness.database, 'select count(*)::int as count from api_keys'))[0]!.count;

test('a database destination that reaches the control plane database is refused when saved, naming the field', async () => {
  const keysBefore = await keyCount();
  for (const connectionString of [
    harness.database.url,
    controlPlaneDatabase('localhost'),
    controlPlaneDatabase('127.0.0.1', ''),
    controlPlaneDatabase('127.1.2.3'),
    controlPlaneDatabase('[::1]'),
    controlPlaneDatabase('0.0.0.0'),
  ]) {
    const refused = expectProblem(
      await harness.api('POST', '/api/v1/destinations', { token: editor, body: attack(connectionString) }),
      422,
    );
    expect([connectionString, refused.errors]).toEqual([
      connectionString,
      [expect.objectContaining({ pointer: '/credentials/connectionString' })],
    ]);
    expect(refused.errors[0].detail).toContain('protects');
  }
  const listed = await harness.api('GET', '/api/v1/destinations', { token: editor });
  expect(listed.body.items).toEqual([]);
  expect(await keyCount()).toBe(keysBefore);
});

test('another database on the same server is accepted, and cannot be moved onto the control plane database', async () => {
  const created = await harness.api('POST', '/api/v1/destinations', {
    token: editor,
    body: attack(other.url, 'elsewhere'),
  });
  expect(created.status).toBe(201);
  const moved = expectProblem(
    await harness.api('PATCH', `/api/v1/destinations/${created.body.id}`, {
      token: editor,
      headers: { 'if-match': created.headers.get('etag')! },
      body: { credentials: { connectionString: controlPlaneDatabase('localhost') } },
    }),
    422,
  );
  expect(moved.errors[0].pointer).toBe('/credentials/connectionString');
  const stored = await harness.api('GET', `/api/v1/destinations/${created.body.id}`, { token: editor });
  expect(stored.body.version).toBe(created.body.version);
});

test('the connection test refuses it before connecting', async () => {
  const catalog = new TemplateCatalog(await loadTemplates(logger));
  const result = await runConnectionTest({
    kind: 'destination',
    type: 'database',
    catalog,
    config: attack('').config,
    credentials: { connectionString: controlPlaneDatabase('localhost') },
    outbound: { fileBaseDirectory: tmpdir(), allowAddresses: ['127.0.0.0/8'] },
    forbiddenDatabases: new ForbiddenDatabases([harness.settings.controlPlane.database.url]),
  });
  expect(result.ok).toBe(false);
  expect(result.steps[0]).toMatchObject({ name: 'config', status: 'failed' });
  expect(result.steps[0]!.detail).toContain('/credentials/connectionString');
  expect(result.steps.slice(1).map((step) => step.status)).toEqual(Array(5).fill('skipped'));
});

test('a router given such a destination does not start it, writes nothing there, and delivers to the others', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'muxly-cp-db-'));
  const prefix = `test.cpdb.${randomBytes(4).toString('hex')}.`;
  const settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      topics: { prefix, partitions: 1 },
      outbound: { fileBaseDirectory: directory },
      // The router runs with settings of its own: the operator lists the control plane database.
      router: {
        health: { host: '127.0.0.1', port: 0 },
        groupIdPrefix: `${prefix}router.`,
        forbiddenDatabases: [controlPlaneDatabase('127.0.0.1')],
      },
      pipeline: {
        destinations: [
          {
            id: 'pwn',
            type: 'database',
            config: { ...attack('').config, connectionString: controlPlaneDatabase('localhost') },
          },
          { id: 'files', type: 'file', config: { path: 'files.jsonl', fsync: false } },
        ],
        rules: [{ id: 'all', destinationIds: ['pwn', 'files'] }],
      },
    },
  });
  const keysBefore = await keyCount();
  const router = await startRouter(settings, logger);
  const producer = createKafka(settings.kafka, logger).producer();
  await producer.connect();
  try {
    const id = await produceEvent(producer, topicNames(prefix).events, 'signup');
    await waitFor('the event in the file destination', async () =>
      (await idsInFile(join(directory, 'files.jsonl'))).includes(id),
    );
    const metrics = await (await fetch(`http://127.0.0.1:${router.healthPort}/metrics`)).text();
    // The refused destination has no lane: nothing delivered to it and nothing dead-lettered.
    expect(metrics).not.toMatch(/destination="pwn"/);
    expect(await keyCount()).toBe(keysBefore);
  } finally {
    await producer.disconnect();
    await router.stop();
    await rm(directory, { recursive: true, force: true });
  }
});
