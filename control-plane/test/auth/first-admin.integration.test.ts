import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '../database.ts';
import { expectProblem } from '../harness.ts';
import { ADMIN, startAuthHarness, type AuthHarness } from './support.ts';

// The first admin from the `users:create-admin` command (the alternative to bootstrapAdmin in
// settings), run as a process against a fresh database, then used through a real control plane.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ROOT_LOGIN = 'root@example.test';

function createAdmin(
  database: TestDatabase,
  args: string[],
  stdin: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['control-plane/src/auth/create-admin.cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, MUXLY_CONTROL_PLANE__DATABASE__URL: database.url, MUXLY_LOG__LEVEL: 'debug' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(stdin);
  });
}

let database: TestDatabase;
let harness: AuthHarness | undefined;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  if (harness) await harness.close();
  else await database?.drop();
});

test('the command creates the first admin; settings then do not add a second one; --reset recovers a locked-out admin', async () => {
  const created = await createAdmin(database, [ROOT_LOGIN], 'root-password-1234\n');
  expect([created.code, created.output]).toEqual([0, expect.stringContaining('admin created')]);
  expect(created.output).not.toContain('root-password-1234');

  const again = await createAdmin(database, [ROOT_LOGIN], 'other-password-1234\n');
  expect([again.code, again.output]).toEqual([1, expect.stringContaining('already exists')]);
  const weak = await createAdmin(database, ['second-admin'], 'short\n');
  expect([weak.code, weak.output]).toEqual([1, expect.stringContaining('at least 12 characters')]);
  expect((await createAdmin(database, [], '')).code).toBe(64);

  // bootstrapAdmin is set too, but a user exists already: it is not created.
  harness = await startAuthHarness({}, { database });
  expect(harness.logs.some((line) => line.includes('first admin created from settings'))).toBe(false);
  expectProblem(
    await harness.api('POST', '/api/v1/auth/login', { body: { username: ADMIN.email, password: ADMIN.password } }),
    401,
  );
  const root = await harness.login(ROOT_LOGIN, 'root-password-1234');
  const me = await harness.api('GET', '/api/v1/auth/me', { token: root.accessToken });
  expect(me.body).toMatchObject({ kind: 'user', username: ROOT_LOGIN, email: ROOT_LOGIN, roles: ['admin'] });

  // Another admin takes root's admin role and disables it; the command gives both back.
  const other = await harness.api('POST', '/api/v1/users', {
    token: root.accessToken,
    body: { username: 'other-admin', password: 'other-admin-password', roles: ['admin'] },
  });
  expect(other.status).toBe(201);
  const otherToken = (await harness.login('other-admin', 'other-admin-password')).accessToken;
  const demoted = await harness.api('PATCH', `/api/v1/users/${me.body.id}`, {
    token: otherToken,
    body: { roles: ['viewer'], disabled: true },
  });
  expect(demoted.body).toMatchObject({ roles: ['viewer'], disabled: true });
  expectProblem(
    await harness.api('POST', '/api/v1/auth/login', { body: { username: ROOT_LOGIN, password: 'root-password-1234' } }),
    401,
  );

  const reset = await createAdmin(database, [ROOT_LOGIN, '--reset'], 'root-new-password-1\n');
  expect([reset.code, reset.output]).toEqual([0, expect.stringContaining('admin reset')]);
  expectProblem(
    await harness.api('POST', '/api/v1/auth/login', { body: { username: ROOT_LOGIN, password: 'root-password-1234' } }),
    401,
  );
  const back = await harness.login(ROOT_LOGIN, 'root-new-password-1');
  const meAgain = await harness.api('GET', '/api/v1/auth/me', { token: back.accessToken });
  expect(meAgain.body.roles).toEqual(['admin', 'viewer']);
  expect((await harness.api('GET', '/api/v1/users', { token: back.accessToken })).status).toBe(200);
});
