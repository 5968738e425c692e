import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLogger } from '@muxly/common';
import { loadTemplates } from '../../src/templates/sources.ts';
import { expectProblem, type ApiAnswer } from '../harness.ts';
import { ADMIN, startAuthHarness, type AuthHarness } from '../auth/support.ts';

// What a signed-in editor can reach through the destinations and connectors they configure,
// performed through the API of a running control plane with the real types, in production mode
// with no outbound.allowAddresses: files stay inside the operator's base folder
// (outbound.fileBaseDirectory), and no connection test reaches an internal address (this
// machine's services, the control plane's own database) or tells an open port from a closed one.

const logger = createLogger({ service: 'outbound-test', level: 'error', silent: true });
const base = mkdtempSync(join(tmpdir(), 'muxly-outbound-base-'));
const elsewhere = mkdtempSync(join(tmpdir(), 'muxly-outbound-elsewhere-'));
let harness: AuthHarness;
let editor: string;
// A service on this machine an editor would like to reach; it records every request.
let receiver: Server;
let receiverPort: number;
const received: string[] = [];

beforeAll(async () => {
  harness = await startAuthHarness(
    {},
    { templates: await loadTemplates(logger), settings: { mode: 'production', outbound: { fileBaseDirectory: base } } },
  );
  const admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  const username = `editor-${randomBytes(3).toString('hex')}`;
  const password = `${username}-password-123`;
  const created = await harness.api('POST', '/api/v1/users', {
    token: admin,
    body: { username, password, roles: ['editor'] },
  });
  expect(created.status).toBe(201);
  editor = (await harness.login(username, password)).accessToken;
  receiver = createServer((request, response) => {
    received.push(`${request.method} ${request.url}`);
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverPort = (receiver.address() as AddressInfo).port;
});
afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await harness?.close();
});

const asEditor = (method: string, path: string, body?: unknown): Promise<ApiAnswer> =>
  harness.api(method, path, { token: editor, body });
const destinationNames = async (): Promise<string[]> =>
  ((await asEditor('GET', '/api/v1/destinations')).body.items as { name: string }[]).map((item) => item.name);
const steps = (answer: ApiAnswer): string[] =>
  (answer.body.steps as { name: string; status: string }[]).map((step) => `${step.name}:${step.status}`);

describe('the file destination stays inside outbound.fileBaseDirectory', () => {
  test.each(['/home/node/.bashrc', '../../home/node/.bashrc', 'logs/../../../etc/cron.d/muxly', '..'])(
    'a destination writing %s is refused, and nothing is stored',
    async (path) => {
      const name = `attack-${randomBytes(3).toString('hex')}`;
      const answer = await asEditor('POST', '/api/v1/destinations', {
        name,
        type: 'file',
        // CSV columns an editor chooses, as the attack on a shell start-up file would use.
        config: { path, format: 'csv', csvColumns: ['name'] },
      });
      const problem = expectProblem(answer, 422);
      expect(JSON.stringify(problem)).toContain('/config/path');
      expect(await destinationNames()).not.toContain(name);
    },
  );

  test('changing a stored path to one outside is refused, and the stored path stays', async () => {
    const created = await asEditor('POST', '/api/v1/destinations', {
      name: `fine-${randomBytes(3).toString('hex')}`,
      type: 'file',
      config: { path: 'events/all.jsonl' },
    });
    expect(created.status).toBe(201);
    const answer = await harness.api('PATCH', `/api/v1/destinations/${created.body.id}`, {
      token: editor,
      body: { config: { path: '/etc/profile.d/muxly.sh' } },
      headers: { 'if-match': created.headers.get('etag')! },
    });
    expectProblem(answer, 422);
    expect((await asEditor('GET', `/api/v1/destinations/${created.body.id}`)).body.config.path).toBe(
      'events/all.jsonl',
    );
  });

  test('the connection test refuses a symbolic link out of the base folder and creates nothing outside', async () => {
    symlinkSync(elsewhere, join(base, 'shared'));
    const created = await asEditor('POST', '/api/v1/destinations', {
      name: `link-${randomBytes(3).toString('hex')}`,
      type: 'file',
      config: { path: 'shared/.ssh/authorized_keys' },
    });
    expect(created.status).toBe(201);
    const answer = await asEditor('POST', `/api/v1/destinations/${created.body.id}/test`);
    expect(answer.status).toBe(200);
    expect(answer.body.ok).toBe(false);
    expect(steps(answer)).toContain('check:failed');
    expect(JSON.stringify(answer.body)).toContain('outside the base folder (outbound.fileBaseDirectory)');
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  test('the connection test of a path inside creates its folder there', async () => {
    const created = await asEditor('POST', '/api/v1/destinations', {
      name: `inside-${randomBytes(3).toString('hex')}`,
      type: 'file',
      config: { path: 'daily/events.jsonl' },
    });
    const answer = await asEditor('POST', `/api/v1/destinations/${created.body.id}/test`);
    expect(answer.body.ok).toBe(true);
    expect(existsSync(join(base, 'daily'))).toBe(true);
  });
});

describe("every outbound connection is judged by the operator's outbound.allowAddresses", () => {
  const REFUSED = [
    'config:ok',
    'resolve:ok',
    'connect:failed',
    'authenticate:skipped',
    'permission:skipped',
    'check:skipped',
  ];
  const connectDetail = (answer: ApiAnswer): string =>
    (answer.body.steps as { name: string; detail: string }[]).find((step) => step.name === 'connect')!.detail;
  const createAndTest = async (kind: 'destinations' | 'connectors', body: Record<string, unknown>) => {
    const created = await asEditor('POST', `/api/v1/${kind}`, {
      name: `${kind}-${randomBytes(3).toString('hex')}`,
      ...body,
    });
    if (created.status !== 201) throw new Error(`${created.status} ${JSON.stringify(created.body)}`);
    const answer = await asEditor('POST', `/api/v1/${kind}/${created.body.id}/test`);
    expect(answer.status).toBe(200);
    return answer;
  };

  test('a webhook may not carry its own allow-list any more', async () => {
    const name = `allow-${randomBytes(3).toString('hex')}`;
    const answer = await asEditor('POST', '/api/v1/destinations', {
      name,
      type: 'webhook',
      config: { url: `http://127.0.0.1:${receiverPort}/hook`, allow: ['0.0.0.0/0'] },
    });
    expect(JSON.stringify(expectProblem(answer, 422))).toContain('allow');
    expect(await destinationNames()).not.toContain(name);
  });

  test.each([
    ['webhook', { type: 'webhook', config: { url: 'http://127.0.0.1:RECEIVER/hook' } }],
    ['webhook by name', { type: 'webhook', config: { url: 'http://localhost:RECEIVER/hook' } }],
    ['webhook, IPv4-compatible IPv6', { type: 'webhook', config: { url: 'http://[::7f00:1]:RECEIVER/hook' } }],
    [
      'slack API URL',
      {
        type: 'slack',
        config: { channel: 'C1', text: 'x', slackApiUrl: 'http://127.0.0.1:RECEIVER/api/' },
        credentials: { token: 'xoxb-1' },
      },
    ],
    [
      's3 endpoint',
      { type: 's3', config: { bucket: 'muxly-events', endpoint: 'http://127.0.0.1:RECEIVER', forcePathStyle: true } },
    ],
    [
      'smtp host',
      {
        type: 'email',
        config: { from: 'muxly@example.com', to: ['ops@example.com'], subject: 'x', text: 'y' },
        credentials: { smtp: { host: '127.0.0.1', port: 'RECEIVER_NUMBER' } },
      },
    ],
  ])('%s on this machine: refused at the connect step, nothing reaches it', async (_name, template) => {
    const body = JSON.parse(
      JSON.stringify(template)
        .replaceAll('"RECEIVER_NUMBER"', String(receiverPort))
        .replaceAll('RECEIVER', String(receiverPort)),
    ) as Record<string, unknown>;
    const answer = await createAndTest('destinations', body);
    expect(steps(answer)).toEqual(REFUSED);
    expect(connectDetail(answer)).toMatch(/is an internal address and outbound\.allowAddresses does not name it/);
    expect(received).toEqual([]);
  });

  test('a database server on this machine is refused, and its open port looks like a closed one', async () => {
    const database = new URL(harness.database.url);
    const probe = (port: string) =>
      createAndTest('destinations', {
        type: 'database',
        config: { table: 'events', columns: { name: '$.name' } },
        // Another database of the PostgreSQL server on this machine (the control plane's own is
        // refused when saved, before any address check).
        credentials: { connectionString: `postgres://${database.username}@${database.hostname}:${port}/postgres` },
      });
    const open = await probe(database.port || '5432');
    const closed = await probe('1');
    expect(steps(open)).toEqual(REFUSED);
    expect(steps(closed)).toEqual(REFUSED);
    expect(connectDetail(open)).toBe(connectDetail(closed));
  });

  test('a connector at an address on this machine is refused at the connect step', async () => {
    const answer = await createAndTest('connectors', {
      type: 'custom',
      config: {
        url: `http://127.0.0.1:${receiverPort}/v1/items`,
        recordSelector: '$.data[*]',
        mapping: { name: 'x', idPath: '$.id' },
      },
    });
    expect(steps(answer)).toEqual(REFUSED);
    expect(received).toEqual([]);
  });
});
