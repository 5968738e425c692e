import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader } from 'jose';
import { KeycloakVerifier } from '../../src/auth/keycloak.ts';
import { expectProblem } from '../harness.ts';
import { KEYCLOAK_URL, keycloakToken, requireKeycloak, startAuthHarness, type AuthHarness } from './support.ts';

// Keycloak SSO against the real Keycloak of the local stack (realms `muxly` and `other`), and a
// throw-away realm created through the admin API for client roles and a signing-key rotation.

const ISSUER = `${KEYCLOAK_URL}/realms/muxly`;
let harness: AuthHarness;
beforeAll(async () => {
  await requireKeycloak();
  harness = await startAuthHarness({ keycloak: { issuer: ISSUER, audience: 'muxly-api' } });
});
afterAll(async () => harness?.close());

test('realm roles map to Muxly roles: admin, editor and viewer each get their permissions', async () => {
  const alice = await keycloakToken('muxly', 'alice', 'alice-password');
  const eddie = await keycloakToken('muxly', 'eddie', 'eddie-password');
  const victor = await keycloakToken('muxly', 'victor', 'victor-password');
  const me = await harness.api('GET', '/api/v1/auth/me', { token: alice });
  expect(me.status).toBe(200);
  expect(me.body).toMatchObject({ kind: 'sso', username: 'alice', roles: ['admin'] });
  expect((await harness.api('GET', '/api/v1/users', { token: alice })).status).toBe(200);

  expectProblem(await harness.api('GET', '/api/v1/users', { token: eddie }), 403);
  const created = await harness.api('POST', '/api/v1/destinations', { token: eddie, body: { name: 'from-sso', type: 'file', config: { path: '/tmp/sso' } } });
  expect(created.status).toBe(201);

  expect((await harness.api('GET', '/api/v1/destinations', { token: victor })).status).toBe(200);
  expectProblem(await harness.api('POST', '/api/v1/destinations', { token: victor, body: { name: 'nope', type: 'file', config: { path: '/tmp/no' } } }), 403);
  // A Keycloak account's password lives in Keycloak.
  expectProblem(await harness.api('POST', '/api/v1/auth/password', { token: victor, body: { currentPassword: 'victor-password', newPassword: 'something-else-123' } }), 409);
});

test('a token of another realm is refused, even for a user with the same role names', async () => {
  const mallory = await keycloakToken('other', 'mallory', 'mallory-password');
  expectProblem(await harness.api('GET', '/api/v1/connectors', { token: mallory }), 401);
});

describe('in a throw-away realm', () => {
  const realm = `muxly-test-${randomBytes(4).toString('hex')}`;
  let admin: string;
  const adminApi = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${KEYCLOAK_URL}/admin/realms${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) throw new Error(`Keycloak admin ${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 200 ? response.json() : null;
  };

  beforeAll(async () => {
    const token = await fetch(`${KEYCLOAK_URL}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' }),
    });
    admin = ((await token.json()) as { access_token: string }).access_token;
    const template = JSON.parse(readFileSync(fileURLToPath(new URL('../../../deploy/local/keycloak/muxly-test-realm.json', import.meta.url)), 'utf8'));
    await adminApi('POST', '', {
      ...template,
      realm,
      roles: { ...template.roles, client: { 'muxly-cli': [{ name: 'pipeline-operator' }] } },
      users: [{ username: 'olga', enabled: true, emailVerified: true, email: 'olga@muxly.test', firstName: 'Olga', lastName: 'Operator', credentials: [{ type: 'password', value: 'olga-password', temporary: false }], clientRoles: { 'muxly-cli': ['pipeline-operator'] } }],
    });
  });
  afterAll(async () => {
    if (admin) await adminApi('DELETE', `/${realm}`).catch(() => undefined);
  });

  test('client roles map by configuration; a new realm signing key is picked up without a restart', async () => {
    const verifier = new KeycloakVerifier(
      { issuer: `${KEYCLOAK_URL}/realms/${realm}`, audience: 'muxly-api', algorithms: ['RS256'], roleSource: 'client', clientId: 'muxly-cli', roleMapping: { 'pipeline-operator': 'editor' } },
      { cooldownMs: 0 },
    );
    const before = await keycloakToken(realm, 'olga', 'olga-password');
    expect(await verifier.verify(before)).toEqual({ subject: expect.any(String), username: 'olga', roles: ['editor'] });

    // Rotate: a new RSA key with a higher priority signs the next tokens.
    const { id: realmId } = (await adminApi('GET', `/${realm}`)) as { id: string };
    await adminApi('POST', `/${realm}/components`, {
      name: 'rotated-rsa',
      providerId: 'rsa-generated',
      providerType: 'org.keycloak.keys.KeyProvider',
      parentId: realmId,
      config: { priority: ['500'], keySize: ['2048'], active: ['true'], enabled: ['true'], algorithm: ['RS256'] },
    });
    const after = await keycloakToken(realm, 'olga', 'olga-password');
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    expect((await verifier.verify(after)).roles).toEqual(['editor']);
    // The old key is still published (not removed), so earlier tokens stay valid until they expire.
    expect((await verifier.verify(before)).username).toBe('olga');
  });
});
