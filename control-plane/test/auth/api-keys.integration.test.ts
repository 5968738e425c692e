import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '@muxly/common';
import { startIngest, type IngestService } from '@muxly/ingest';
import { waitFor } from '../../../test/support/services.ts';
import { expectProblem } from '../harness.ts';
import { ADMIN, queryRows, capturingLogger, startAuthHarness, type AuthHarness } from './support.ts';

// API keys end to end: created and revoked through the control plane, checked by the control
// plane itself (scopes) and by a real ingest that syncs the hashes with the service token,
// keeps them while the control plane is down, and survives its own restart from the cache file.

const SERVICE_TOKEN = randomBytes(32).toString('base64url');
const REFRESH_SECONDS = 2;
// The documented bound: one refresh interval plus one fetch timeout (min(5 s, interval)).
const REVOCATION_BOUND_MS = REFRESH_SECONDS * 1000 + Math.min(5_000, REFRESH_SECONDS * 1000);
// Slack for a busy 2-core machine; a revocation that never reaches ingest still fails.
const SLACK_MS = 10_000;

let harness: AuthHarness;
let admin: string;
let cacheDirectory: string;
let ingest: IngestService | null = null;
const ingestLogs: string[] = [];

beforeAll(async () => {
  harness = await startAuthHarness({ serviceToken: SERVICE_TOKEN });
  admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  cacheDirectory = mkdtempSync(join(tmpdir(), 'muxly-key-cache-'));
});
afterAll(async () => {
  await ingest?.stop();
  await harness?.close();
  if (cacheDirectory) rmSync(cacheDirectory, { recursive: true, force: true });
});

function startTestIngest(): Promise<IngestService> {
  const settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'debug' },
      topics: { prefix: harness.settings.topics.prefix, partitions: 1 },
      ingest: { http: { port: 0 }, jobs: { enabled: false } },
      controlPlane: {
        auth: {
          serviceToken: SERVICE_TOKEN,
          apiKeySync: {
            controlPlaneUrl: harness.baseUrl,
            refreshIntervalSeconds: REFRESH_SECONDS,
            cacheFile: join(cacheDirectory, 'keys.json'),
          },
        },
      },
    },
  });
  return startIngest(settings, capturingLogger(ingestLogs, { service: 'ingest' }));
}

async function ingestStatus(key: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${ingest!.port}/v1/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'api_key_test', value: 1 }),
    signal: AbortSignal.timeout(20_000),
  });
  await response.arrayBuffer();
  return response.status;
}

async function createKey(body: Record<string, unknown>, token = admin) {
  const answer = await harness.api('POST', '/api/v1/api-keys', { token, body });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; key: string; prefix: string; scopes: string[] };
}

const sql = <T>(query: string, params: unknown[] = []) => queryRows<T>(harness.database, query, params);

test('the key is shown once, stored only as its hash; lists and reads never show it; scopes are checked', async () => {
  const created = await harness.api('POST', '/api/v1/api-keys', {
    token: admin,
    body: { name: 'writer', scopes: ['metrics:write'] },
  });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    id: expect.stringMatching(/^key_/),
    name: 'writer',
    scopes: ['metrics:write'],
    active: true,
    revokedAt: null,
    key: expect.stringMatching(/^mxk_[A-Za-z0-9_-]{43}$/),
  });
  const { id, key, prefix } = created.body;
  expect(key.startsWith(prefix)).toBe(true);

  const list = await harness.api('GET', '/api/v1/api-keys', { token: admin });
  expect(list.body.items.map((item: { id: string }) => item.id)).toContain(id);
  const read = await harness.api('GET', `/api/v1/api-keys/${id}`, { token: admin });
  expect(read.body).toMatchObject({ id, prefix, active: true });
  expect(read.body).not.toHaveProperty('key');
  for (const answer of [list, read]) expect(JSON.stringify(answer.body)).not.toContain(key);

  const [row] = await sql<{ key_hash: string; everything: string }>(
    `select key_hash, row_to_json(k)::text as everything from api_keys k where id = $1`,
    [id],
  );
  expect(row!.key_hash).toBe(`sha256:${createHash('sha256').update(key).digest('hex')}`);
  expect(row!.everything).not.toContain(key);

  expectProblem(
    await harness.api('POST', '/api/v1/api-keys', { token: admin, body: { name: 'bad', scopes: ['connectors:fly'] } }),
    422,
  );
  expectProblem(
    await harness.api('POST', '/api/v1/api-keys', {
      token: admin,
      body: { name: 'past', scopes: ['metrics:write'], expiresAt: '2020-01-01T00:00:00Z' },
    }),
    422,
  );
  const viewer = await harness.api('POST', '/api/v1/users', {
    token: admin,
    body: { username: 'keyless', password: 'keyless-password', roles: ['viewer'] },
  });
  expect(viewer.status).toBe(201);
  const viewerToken = (await harness.login('keyless', 'keyless-password')).accessToken;
  expectProblem(
    await harness.api('POST', '/api/v1/api-keys', {
      token: viewerToken,
      body: { name: 'mine', scopes: ['metrics:write'] },
    }),
    403,
  );
  expectProblem(await harness.api('GET', '/api/v1/api-keys', { token: viewerToken }), 403);
});

test('on the control plane a key can do exactly its scopes; revocation and expiry apply at once', async () => {
  const reader = await createKey({ name: 'connector reader', scopes: ['connectors:read'] });
  const writer = await createKey({ name: 'metrics writer', scopes: ['metrics:write'] });
  expect((await harness.api('GET', '/api/v1/connectors', { token: reader.key })).status).toBe(200);
  expect((await harness.api('GET', '/api/v1/connectors', { headers: { 'x-api-key': reader.key } })).status).toBe(200);
  expectProblem(
    await harness.api('POST', '/api/v1/connectors', {
      token: reader.key,
      body: { name: 'nope', type: 'custom', config: { baseUrl: 'http://x' } },
    }),
    403,
  );
  expectProblem(await harness.api('GET', '/api/v1/users', { token: reader.key }), 403);
  expectProblem(await harness.api('GET', '/api/v1/connectors', { token: writer.key }), 403);
  // A key is not a person: it has no account to read or sign out of.
  expectProblem(await harness.api('GET', '/api/v1/auth/me', { token: reader.key }), 403);

  expect((await harness.api('DELETE', `/api/v1/api-keys/${reader.id}`, { token: admin })).status).toBe(204);
  expectProblem(await harness.api('GET', '/api/v1/connectors', { token: reader.key }), 401);
  const revoked = await harness.api('GET', `/api/v1/api-keys/${reader.id}`, { token: admin });
  expect(revoked.body).toMatchObject({ active: false, revokedAt: expect.any(String) });
  // Revoking twice keeps the first time; an unknown key is 404.
  expect((await harness.api('DELETE', `/api/v1/api-keys/${reader.id}`, { token: admin })).status).toBe(204);
  expect((await harness.api('GET', `/api/v1/api-keys/${reader.id}`, { token: admin })).body.revokedAt).toBe(
    revoked.body.revokedAt,
  );
  expectProblem(await harness.api('DELETE', '/api/v1/api-keys/key_0000000000000000', { token: admin }), 404);

  const shortLived = await createKey({
    name: 'short-lived',
    scopes: ['connectors:read'],
    expiresAt: new Date(Date.now() + 3_000).toISOString(),
  });
  await waitFor(
    'the short-lived key to expire',
    async () => (await harness.api('GET', '/api/v1/connectors', { token: shortLived.key })).status === 401,
    30_000,
  );
  expect((await harness.api('GET', `/api/v1/api-keys/${shortLived.id}`, { token: admin })).body.active).toBe(false);
});

test('the hashes ingest syncs need the service token (or api-keys:sync) and hold only active metrics:write keys', async () => {
  const writer = await createKey({ name: 'synced', scopes: ['metrics:write'] });
  const reader = await createKey({ name: 'not synced', scopes: ['connectors:read'] });
  expectProblem(await harness.api('GET', '/api/v1/internal/api-keys'), 401);
  expectProblem(
    await harness.api('GET', '/api/v1/internal/api-keys', { token: randomBytes(32).toString('base64url') }),
    401,
  );
  expectProblem(await harness.api('GET', '/api/v1/internal/api-keys', { token: writer.key }), 403);
  const synced = await harness.api('GET', '/api/v1/internal/api-keys', { token: SERVICE_TOKEN });
  expect(synced.status).toBe(200);
  expect(synced.headers.get('cache-control')).toBe('no-store');
  const ids = synced.body.keys.map((key: { id: string }) => key.id);
  expect(ids).toContain(writer.id);
  expect(ids).not.toContain(reader.id);
  expect(JSON.stringify(synced.body)).not.toContain(writer.key);
  // The service token can do nothing else.
  expectProblem(await harness.api('GET', '/api/v1/connectors', { token: SERVICE_TOKEN }), 403);
});

test(`ingest accepts a new key after a sync and refuses a revoked one within ${REVOCATION_BOUND_MS / 1000} s (one interval plus one fetch timeout)`, async () => {
  ingest = await startTestIngest();
  const key = await createKey({ name: 'ingest writer', scopes: ['metrics:write'] });
  const other = await createKey({ name: 'ingest reader', scopes: ['connectors:read'] });
  await waitFor(
    'ingest to accept the new key',
    async () => (await ingestStatus(key.key)) === 202,
    REVOCATION_BOUND_MS + SLACK_MS,
  );
  expect(await ingestStatus(other.key)).toBe(401);
  expect(await ingestStatus(`mxk_${randomBytes(32).toString('base64url')}`)).toBe(401);

  expect((await harness.api('DELETE', `/api/v1/api-keys/${key.id}`, { token: admin })).status).toBe(204);
  await waitFor(
    'ingest to refuse the revoked key',
    async () => (await ingestStatus(key.key)) === 401,
    REVOCATION_BOUND_MS + SLACK_MS,
  );
});

test('while the control plane is down ingest keeps accepting known keys, also after its own restart (cache file)', async () => {
  const key = await createKey({ name: 'outage writer', scopes: ['metrics:write'] });
  const revoked = await createKey({ name: 'revoked before the outage', scopes: ['metrics:write'] });
  await waitFor(
    'ingest to accept both keys',
    async () => (await ingestStatus(key.key)) === 202 && (await ingestStatus(revoked.key)) === 202,
    REVOCATION_BOUND_MS + SLACK_MS,
  );
  await harness.api('DELETE', `/api/v1/api-keys/${revoked.id}`, { token: admin });
  await waitFor(
    'ingest to refuse the revoked key',
    async () => (await ingestStatus(revoked.key)) === 401,
    REVOCATION_BOUND_MS + SLACK_MS,
  );

  await harness.stopService();
  await waitFor(
    'ingest to notice the control plane is gone',
    async () => ingestLogs.some((line) => line.includes('cannot fetch API keys')),
    30_000,
  );
  expect(await ingestStatus(key.key)).toBe(202);
  expect(await ingestStatus(revoked.key)).toBe(401);

  await ingest!.stop();
  ingest = null;
  const cache = readFileSync(join(cacheDirectory, 'keys.json'), 'utf8');
  expect(cache).not.toContain(key.key);
  expect(JSON.parse(cache).keys.map((entry: { id: string }) => entry.id)).toContain(key.id);
  ingestLogs.length = 0;
  ingest = await startTestIngest();
  expect(ingestLogs.some((line) => line.includes('API keys loaded from the cache'))).toBe(true);
  expect(await ingestStatus(key.key)).toBe(202);
  expect(await ingestStatus(revoked.key)).toBe(401);
  for (const secret of [key.key, revoked.key, SERVICE_TOKEN]) {
    expect(ingestLogs.filter((line) => line.includes(secret))).toEqual([]);
    expect(harness.logs.filter((line) => line.includes(secret))).toEqual([]);
  }
});
