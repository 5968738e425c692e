import { randomBytes } from 'node:crypto';
import { hashApiKey, newApiKey } from '../../src/auth/api-key-format.ts';
import { expectProblem } from '../harness.ts';
import {
  ADMIN,
  KEYCLOAK_URL,
  keycloakToken,
  queryRows,
  requireKeycloak,
  startAuthHarness,
  type AuthHarness,
} from './support.ts';

// Attacks on the permission model, performed through the API of a running control plane: an API
// key is never worth more than what its owner holds now, and nobody grants what they do not hold.

const SERVICE_TOKEN = randomBytes(32).toString('base64url');
let harness: AuthHarness;
let admin: string;

beforeAll(async () => {
  await requireKeycloak();
  harness = await startAuthHarness({
    serviceToken: SERVICE_TOKEN,
    keycloak: {
      issuer: `${KEYCLOAK_URL}/realms/muxly`,
      audience: 'muxly-api',
      // Keycloak's editors get a custom role here, so the test can change what they hold.
      roleMapping: { 'muxly-admin': 'admin', 'muxly-editor': 'sso-key-maker' },
    },
  });
  admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
});
afterAll(async () => harness?.close());

const sql = <T>(query: string, params: unknown[] = []) => queryRows<T>(harness.database, query, params);

async function createUser(username: string, roles: string[]): Promise<{ id: string; token: string }> {
  const password = `${username}-password-123`;
  const created = await harness.api('POST', '/api/v1/users', { token: admin, body: { username, password, roles } });
  expect(created.status).toBe(201);
  return { id: created.body.id, token: (await harness.login(username, password)).accessToken };
}

async function createRole(name: string, permissions: string[]): Promise<void> {
  const created = await harness.api('POST', '/api/v1/roles', { token: admin, body: { name, permissions } });
  expect(created.status).toBe(201);
}

async function createKey(token: string, scopes: string[]): Promise<{ id: string; key: string; createdBy: string }> {
  const created = await harness.api('POST', '/api/v1/api-keys', { token, body: { name: 'k', scopes } });
  expect(created.status).toBe(201);
  return created.body;
}

/** The key ids ingest's sync receives (what ingest accepts for POST /v1/metrics). */
async function ingestKeyIds(): Promise<string[]> {
  const answer = await harness.api('GET', '/api/v1/internal/api-keys', { token: SERVICE_TOKEN });
  expect(answer.status).toBe(200);
  return answer.body.keys.map((key: { id: string }) => key.id);
}

test('a row written straight into api_keys with admin scopes gives its owner nothing more', async () => {
  const editor = await createUser(`editor-${randomBytes(3).toString('hex')}`, ['editor']);
  // What an editor could write through a destination pointed at the control plane's database.
  const { key, prefix, hash } = newApiKey();
  expect(hash).toBe(hashApiKey(key));
  await sql(
    `insert into api_keys (id, name, prefix, key_hash, user_id, scopes) values ($1, 'forged', $2, $3, $4, $5)`,
    [
      `key_forged${randomBytes(4).toString('hex')}`,
      prefix,
      hash,
      editor.id,
      JSON.stringify(['users:read', 'users:write', 'roles:write', 'api-keys:write', 'connectors:read']),
    ],
  );
  const problem = expectProblem(await harness.api('GET', '/api/v1/users', { token: key }), 403);
  expect(problem.detail).toContain('users:read');
  expectProblem(
    await harness.api('PATCH', `/api/v1/users/${editor.id}`, { token: key, body: { roles: ['admin'] } }),
    403,
  );
  expect(
    (await sql<{ roles: string }>(`select role_id as roles from user_roles where user_id = $1`, [editor.id])).map(
      (r) => r.roles,
    ),
  ).toEqual(['editor']);
  // What the owner does hold still works.
  expect((await harness.api('GET', '/api/v1/connectors', { token: key })).status).toBe(200);

  // A row without an owner cannot even be stored.
  const other = newApiKey();
  await expect(
    sql(
      `insert into api_keys (id, name, prefix, key_hash, scopes) values ($1, 'ownerless', $2, $3, '["users:read"]')`,
      [`key_forged${randomBytes(4).toString('hex')}`, other.prefix, other.hash],
    ),
  ).rejects.toThrow(/api_keys_owner_check/);
});

test("a demoted, disabled or deleted owner's keys follow at once, keys made by keys included", async () => {
  const ada = await createUser(`ada-${randomBytes(3).toString('hex')}`, ['admin']);
  const parent = await createKey(ada.token, ['users:read', 'connectors:read', 'metrics:write', 'api-keys:write']);
  expect(parent.createdBy).toBe(ada.id);
  // A key made by a key belongs to the same owner.
  const child = await createKey(parent.key, ['users:read', 'metrics:write']);
  expect(child.createdBy).toBe(ada.id);
  expect((await harness.api('GET', '/api/v1/users', { token: child.key })).status).toBe(200);
  expect(await ingestKeyIds()).toEqual(expect.arrayContaining([parent.id, child.id]));

  // Demoted to viewer: the keys keep only what a viewer holds.
  expect(
    (await harness.api('PATCH', `/api/v1/users/${ada.id}`, { token: admin, body: { roles: ['viewer'] } })).status,
  ).toBe(200);
  expectProblem(await harness.api('GET', '/api/v1/users', { token: parent.key }), 403);
  expectProblem(await harness.api('GET', '/api/v1/users', { token: child.key }), 403);
  expect((await harness.api('GET', '/api/v1/connectors', { token: parent.key })).status).toBe(200);
  const shown = await harness.api('GET', `/api/v1/api-keys/${parent.id}`, { token: admin });
  expect(shown.body).toMatchObject({ active: true, effectiveScopes: ['connectors:read'] });
  // A viewer may not write metrics: ingest's sync drops both keys.
  expect(await ingestKeyIds()).not.toEqual(expect.arrayContaining([parent.id]));
  expect(await ingestKeyIds()).not.toContain(child.id);

  // Back to editor (metrics:write again), then disabled: every key refused, and gone from ingest.
  await harness.api('PATCH', `/api/v1/users/${ada.id}`, { token: admin, body: { roles: ['editor'] } });
  expect(await ingestKeyIds()).toContain(child.id);
  await harness.api('PATCH', `/api/v1/users/${ada.id}`, { token: admin, body: { disabled: true } });
  expectProblem(await harness.api('GET', '/api/v1/connectors', { token: parent.key }), 401);
  expect(await ingestKeyIds()).not.toContain(child.id);
  expect((await harness.api('GET', `/api/v1/api-keys/${child.id}`, { token: admin })).body).toMatchObject({
    active: false,
    effectiveScopes: [],
  });

  // Deleted: the keys are deleted with the user.
  expect((await harness.api('DELETE', `/api/v1/users/${ada.id}`, { token: admin })).status).toBe(204);
  expectProblem(await harness.api('GET', `/api/v1/api-keys/${child.id}`, { token: admin }), 404);
  expectProblem(await harness.api('GET', '/api/v1/connectors', { token: child.key }), 401);
});

test("a Keycloak user's keys are bounded by the roles of their latest token", async () => {
  await createRole('sso-key-maker', ['api-keys:write', 'connectors:read', 'destinations:read']);
  const eddie = await keycloakToken('muxly', 'eddie', 'eddie-password');
  const key = await createKey(eddie, ['connectors:read', 'destinations:read']);
  expect(key.createdBy).toMatch(/^keycloak:/);
  expect((await harness.api('GET', '/api/v1/destinations', { token: key.key })).status).toBe(200);
  // The role loses a permission: the key loses it too.
  await harness.api('PATCH', '/api/v1/roles/sso-key-maker', {
    token: admin,
    body: { permissions: ['api-keys:write', 'connectors:read'] },
  });
  expectProblem(await harness.api('GET', '/api/v1/destinations', { token: key.key }), 403);
  expect((await harness.api('GET', '/api/v1/connectors', { token: key.key })).status).toBe(200);
});

test('a user manager cannot make themselves admin, hand out admin, or take over a stronger account', async () => {
  await createRole('user-manager', ['users:read', 'users:write', 'roles:read']);
  const mallory = await createUser(`mallory-${randomBytes(3).toString('hex')}`, ['user-manager']);
  const rolesOf = async (id: string) =>
    (await sql<{ role_id: string }>(`select role_id from user_roles where user_id = $1`, [id])).map((r) => r.role_id);
  const before = await rolesOf(mallory.id);

  let problem = expectProblem(
    await harness.api('PATCH', `/api/v1/users/${mallory.id}`, {
      token: mallory.token,
      body: { roles: ['user-manager', 'admin'] },
    }),
    403,
  );
  expect(problem.detail).toContain('api-keys:write');
  expect(await rolesOf(mallory.id)).toEqual(before);

  const name = `accomplice-${randomBytes(3).toString('hex')}`;
  expectProblem(
    await harness.api('POST', '/api/v1/users', {
      token: mallory.token,
      body: { username: name, password: 'accomplice-password-1', roles: ['admin'] },
    }),
    403,
  );
  expect(await sql(`select id from users where username = $1`, [name])).toEqual([]);

  // A new password for the admin would be a way in as the admin.
  const [adminRow] = await sql<{ id: string; password_hash: string }>(
    `select id, password_hash from users where email = $1`,
    [ADMIN.email],
  );
  problem = expectProblem(
    await harness.api('PATCH', `/api/v1/users/${adminRow!.id}`, {
      token: mallory.token,
      body: { password: 'taken-over-password-1' },
    }),
    403,
  );
  expectProblem(await harness.api('DELETE', `/api/v1/users/${adminRow!.id}`, { token: mallory.token }), 403);
  const [after] = await sql<{ password_hash: string }>(`select password_hash from users where id = $1`, [adminRow!.id]);
  expect(after!.password_hash).toBe(adminRow!.password_hash);

  // What they hold, they may give.
  const created = await harness.api('POST', '/api/v1/users', {
    token: mallory.token,
    body: { username: `${name}-ok`, password: 'accomplice-password-1', roles: ['user-manager'] },
  });
  expect(created.status).toBe(201);
});

test('a role manager cannot put into a role what they do not hold', async () => {
  await createRole('role-manager', ['roles:read', 'roles:write', 'connectors:read']);
  const rita = await createUser(`rita-${randomBytes(3).toString('hex')}`, ['role-manager']);
  expectProblem(
    await harness.api('POST', '/api/v1/roles', {
      token: rita.token,
      body: { name: 'rita-escalated', permissions: ['connectors:read', 'users:write'] },
    }),
    403,
  );
  expect(await sql(`select id from roles where name = 'rita-escalated'`)).toEqual([]);
  const problem = expectProblem(
    await harness.api('PATCH', '/api/v1/roles/role-manager', {
      token: rita.token,
      body: { permissions: ['roles:read', 'roles:write', 'connectors:read', 'api-keys:write'] },
    }),
    403,
  );
  expect(problem.detail).toContain('api-keys:write');
  const [role] = await sql<{ count: string }>(
    `select count(*) as count from role_permissions where role_id = (select id from roles where name = 'role-manager')`,
  );
  expect(Number(role!.count)).toBe(3);
  expect(
    (
      await harness.api('POST', '/api/v1/roles', {
        token: rita.token,
        body: { name: 'rita-reader', permissions: ['connectors:read'] },
      })
    ).status,
  ).toBe(201);
});

test('token and key answers are not cached; every answer says nosniff', async () => {
  const login = await harness.api('POST', '/api/v1/auth/login', {
    body: { username: ADMIN.email, password: ADMIN.password },
  });
  expect(login.status).toBe(200);
  const created = await harness.api('POST', '/api/v1/api-keys', {
    token: admin,
    body: { name: 'cache', scopes: ['metrics:write'] },
  });
  for (const answer of [login, created]) {
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  }
  for (const path of ['/healthz', '/docs', '/api/v1/nothing-here', '/hooks/nothing-here']) {
    const answer = await fetch(`${harness.baseUrl}${path}`);
    expect({ path, nosniff: answer.headers.get('x-content-type-options') }).toEqual({ path, nosniff: 'nosniff' });
  }
});
