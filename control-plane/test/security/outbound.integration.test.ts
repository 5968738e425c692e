import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@muxly/common';
import { loadTemplates } from '../../src/templates/sources.ts';
import { expectProblem, type ApiAnswer } from '../harness.ts';
import { ADMIN, startAuthHarness, type AuthHarness } from '../auth/support.ts';

// What a signed-in editor can reach through the destinations they configure, performed through
// the API of a running control plane with the real destination types: files stay inside the
// operator's base folder (outbound.fileBaseDirectory), in what is stored and in connection tests.

const logger = createLogger({ service: 'outbound-test', level: 'error', silent: true });
const base = mkdtempSync(join(tmpdir(), 'muxly-outbound-base-'));
const elsewhere = mkdtempSync(join(tmpdir(), 'muxly-outbound-elsewhere-'));
let harness: AuthHarness;
let editor: string;

beforeAll(async () => {
  harness = await startAuthHarness(
    {},
    { templates: await loadTemplates(logger), settings: { outbound: { fileBaseDirectory: base } } },
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
});
afterAll(async () => harness?.close());

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
