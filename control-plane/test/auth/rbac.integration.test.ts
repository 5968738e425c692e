import { readOpenApi } from '../../src/http/docs.ts';
import { expectProblem } from '../harness.ts';
import { ADMIN, startAuthHarness, type AuthHarness } from './support.ts';

// Generated from the OpenAPI document: every operation is called anonymously and as each role.
// Anonymous callers get 401 (public operations excepted); a role either gets past the permission
// check (any answer but 401/403, and no 5xx: the answer is also validated against the document)
// or gets 403. Expectations are written out here, independent of the server's role definitions.

const { document } = readOpenApi();
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const operations = Object.entries(document.paths)
  .flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({
      path,
      method,
      permission: item[method]!['x-muxly-permission'],
      id: item[method]!.operationId,
    })),
  )
  // Signing out ends the caller's session: last.
  .sort((a, b) => Number(a.id === 'logout') - Number(b.id === 'logout'));

const ADMIN_ONLY = ['users', 'roles', 'api-keys'];
const expectations: Record<string, (permission: string) => boolean> = {
  admin: () => true,
  editor: (permission) => permission.startsWith('account:') || !ADMIN_ONLY.includes(permission.split(':')[0]!),
  viewer: (permission) =>
    permission.startsWith('account:') ||
    (!ADMIN_ONLY.includes(permission.split(':')[0]!) && permission.endsWith(':read')),
  // A custom role made of two permissions.
  auditor: (permission) => permission.startsWith('account:') || ['connectors:read', 'health:read'].includes(permission),
};

let harness: AuthHarness;
const tokens: Record<string, string> = {};
beforeAll(async () => {
  harness = await startAuthHarness();
  tokens.admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  const role = await harness.api('POST', '/api/v1/roles', {
    token: tokens.admin,
    body: { name: 'auditor', description: 'reads connectors', permissions: ['connectors:read', 'health:read'] },
  });
  expect(role.status).toBe(201);
  for (const name of ['editor', 'viewer', 'auditor']) {
    const created = await harness.api('POST', '/api/v1/users', {
      token: tokens.admin,
      body: { username: name, password: `${name}-password-123`, roles: [name] },
    });
    expect(created.status).toBe(201);
    tokens[name] = (await harness.login(name, `${name}-password-123`)).accessToken;
  }
});
afterAll(async () => harness?.close());

const concretePath = (path: string) => path.replace(/\{[^}]+\}/g, 'rbac-missing');

test('every operation declares a permission (resource:action or public)', () => {
  expect(operations.length).toBeGreaterThan(60);
  const missing = operations.filter(
    (operation) => typeof operation.permission !== 'string' || !/^(public|[a-z-]+:[a-z-]+)$/.test(operation.permission),
  );
  expect(missing.map((operation) => `${operation.method} ${operation.path}`)).toEqual([]);
});

test.each(operations.map((operation) => [`${operation.method.toUpperCase()} ${operation.path}`, operation] as const))(
  'anonymous: %s',
  async (_name, operation) => {
    const answer = await harness.api(operation.method.toUpperCase(), concretePath(operation.path), {
      body: operation.method === 'get' || operation.method === 'delete' ? undefined : {},
    });
    if (operation.permission === 'public') {
      // Public: whatever the answer (400 for the empty body), it is not an authentication demand.
      expect([
        operation.id,
        answer.status === 401 && /authentication required/.test(answer.body?.detail ?? ''),
      ]).toEqual([operation.id, false]);
      expect(answer.status).toBeLessThan(500);
    } else {
      expectProblem(answer, 401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  },
);

describe.each(Object.keys(expectations))('as %s', (role) => {
  test.each(
    operations
      .filter((operation) => operation.permission !== 'public')
      .map((operation) => [`${operation.method.toUpperCase()} ${operation.path}`, operation] as const),
  )('%s', async (_name, operation) => {
    const answer = await harness.api(operation.method.toUpperCase(), concretePath(operation.path), {
      token: tokens[role],
      body: operation.method === 'get' || operation.method === 'delete' ? undefined : {},
    });
    const allowed = expectations[role]!(operation.permission!);
    if (allowed) {
      const passed = answer.status !== 401 && answer.status !== 403 && answer.status < 500;
      expect([operation.permission, answer.status, passed ? 'passed' : answer.body]).toEqual([
        operation.permission,
        answer.status,
        'passed',
      ]);
    } else {
      expect(expectProblem(answer, 403).detail).toContain(operation.permission);
    }
  });
});

test('custom roles: changes apply at once; built-in roles are read-only; unknown permissions and roles in use are refused', async () => {
  const admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  const auditor = (await harness.login('auditor', 'auditor-password-123')).accessToken;
  expectProblem(await harness.api('GET', '/api/v1/destinations', { token: auditor }), 403);
  const patched = await harness.api('PATCH', '/api/v1/roles/auditor', {
    token: admin,
    body: { permissions: ['connectors:read', 'health:read', 'destinations:read'] },
  });
  expect(patched.status).toBe(200);
  expect(patched.body.permissions).toEqual(['connectors:read', 'destinations:read', 'health:read']);
  expect((await harness.api('GET', '/api/v1/destinations', { token: auditor })).status).toBe(200);

  expectProblem(
    await harness.api('PATCH', '/api/v1/roles/viewer', { token: admin, body: { permissions: ['users:write'] } }),
    409,
  );
  expectProblem(await harness.api('DELETE', '/api/v1/roles/admin', { token: admin }), 409);
  expectProblem(
    await harness.api('POST', '/api/v1/roles', {
      token: admin,
      body: { name: 'bad', permissions: ['connectors:fly'] },
    }),
    422,
  );
  expectProblem(await harness.api('DELETE', '/api/v1/roles/auditor', { token: admin }), 409);

  const roles = await harness.api('GET', '/api/v1/roles', { token: admin });
  expect(roles.body.items.map((item: { name: string }) => item.name)).toEqual(['admin', 'editor', 'viewer', 'auditor']);
  const permissions = await harness.api('GET', '/api/v1/permissions', { token: admin });
  expect(permissions.body.items).toEqual(expect.arrayContaining(['connectors:read', 'metrics:write', 'users:write']));
  expect(permissions.body.items).not.toContain('public');
});
