import { decodeProtectedHeader } from 'jose';
import { KeycloakVerifier } from '../../src/auth/keycloak.ts';
import { waitFor } from '../../../test/support/services.ts';
import { expectProblem } from '../harness.ts';
import {
  createThrowAwayRealm,
  exampleRealm,
  KEYCLOAK_URL,
  keycloakToken,
  requireKeycloak,
  startAuthHarness,
  type AuthHarness,
  type ThrowAwayRealm,
} from './support.ts';

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
  const created = await harness.api('POST', '/api/v1/destinations', {
    token: eddie,
    body: { name: 'from-sso', type: 'file', config: { path: 'sso' } },
  });
  expect(created.status).toBe(201);

  expect((await harness.api('GET', '/api/v1/destinations', { token: victor })).status).toBe(200);
  expectProblem(
    await harness.api('POST', '/api/v1/destinations', {
      token: victor,
      body: { name: 'nope', type: 'file', config: { path: 'no' } },
    }),
    403,
  );
  // A Keycloak account's password lives in Keycloak.
  expectProblem(
    await harness.api('POST', '/api/v1/auth/password', {
      token: victor,
      body: { currentPassword: 'victor-password', newPassword: 'something-else-123' },
    }),
    409,
  );
});

test('a token of another realm is refused, even for a user with the same role names', async () => {
  const mallory = await keycloakToken('other', 'mallory', 'mallory-password');
  expectProblem(await harness.api('GET', '/api/v1/connectors', { token: mallory }), 401);
});

test('the verifier checks audience, issuer and algorithm of a genuine realm token', async () => {
  const token = await keycloakToken('muxly', 'alice', 'alice-password');
  const settings = {
    issuer: ISSUER,
    audience: 'muxly-api',
    algorithms: ['RS256'],
    roleSource: 'realm' as const,
    roleMapping: { 'muxly-admin': 'admin' },
  };
  expect((await new KeycloakVerifier(settings).verify(token)).roles).toEqual(['admin']);
  await expect(new KeycloakVerifier({ ...settings, audience: 'another-api' }).verify(token)).rejects.toMatchObject({
    code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    claim: 'aud',
  });
  await expect(new KeycloakVerifier({ ...settings, algorithms: ['ES256'] }).verify(token)).rejects.toMatchObject({
    code: 'ERR_JOSE_ALG_NOT_ALLOWED',
  });
  // The realm's keys but another issuer name: refused on `iss`.
  await expect(
    new KeycloakVerifier({
      ...settings,
      issuer: `${KEYCLOAK_URL}/realms/other`,
      jwksUrl: `${ISSUER}/protocol/openid-connect/certs`,
    }).verify(token),
  ).rejects.toMatchObject({ claim: 'iss' });
  // Another realm's keys under this issuer name: no key matches the token's.
  await expect(
    new KeycloakVerifier({ ...settings, jwksUrl: `${KEYCLOAK_URL}/realms/other/protocol/openid-connect/certs` }).verify(
      token,
    ),
  ).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  // An ID token is signed by the same keys; even with its audience (the client id) configured, it is not an access token.
  const tokens = await fetch(`${ISSUER}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: 'muxly-cli',
      username: 'alice',
      password: 'alice-password',
      scope: 'openid',
    }),
  });
  const { id_token: idToken } = (await tokens.json()) as { id_token: string };
  await expect(new KeycloakVerifier({ ...settings, audience: 'muxly-cli' }).verify(idToken)).rejects.toMatchObject({
    claim: 'typ',
  });
  // Through the API: a control plane expecting another audience refuses the same token.
  const strict = await startAuthHarness({ keycloak: { issuer: ISSUER, audience: 'another-api' } });
  try {
    expectProblem(await strict.api('GET', '/api/v1/connectors', { token }), 401);
  } finally {
    await strict.close();
  }
});

describe('in a throw-away realm', () => {
  let realm: ThrowAwayRealm;

  beforeAll(async () => {
    const template = exampleRealm();
    realm = await createThrowAwayRealm('muxly-test', {
      ...template,
      roles: { ...(template.roles as object), client: { 'muxly-cli': [{ name: 'pipeline-operator' }] } },
      users: [
        {
          username: 'olga',
          enabled: true,
          emailVerified: true,
          email: 'olga@muxly.test',
          firstName: 'Olga',
          lastName: 'Operator',
          credentials: [{ type: 'password', value: 'olga-password', temporary: false }],
          clientRoles: { 'muxly-cli': ['pipeline-operator'] },
        },
      ],
    });
  });
  afterAll(async () => {
    await realm?.drop().catch(() => undefined);
  });

  test('client roles map by configuration; a new realm signing key is picked up without a restart', async () => {
    const verifier = new KeycloakVerifier(
      {
        issuer: realm.issuer,
        audience: 'muxly-api',
        algorithms: ['RS256'],
        roleSource: 'client',
        clientId: 'muxly-cli',
        roleMapping: { 'pipeline-operator': 'editor' },
      },
      { cooldownMs: 0 },
    );
    const before = await keycloakToken(realm.name, 'olga', 'olga-password');
    expect(await verifier.verify(before)).toEqual({ subject: expect.any(String), username: 'olga', roles: ['editor'] });

    // Rotate: a new RSA key with a higher priority signs the next tokens.
    const { id: realmId } = (await realm.admin('GET', '')) as { id: string };
    await realm.admin('POST', '/components', {
      name: 'rotated-rsa',
      providerId: 'rsa-generated',
      providerType: 'org.keycloak.keys.KeyProvider',
      parentId: realmId,
      config: { priority: ['500'], keySize: ['2048'], active: ['true'], enabled: ['true'], algorithm: ['RS256'] },
    });
    const after = await keycloakToken(realm.name, 'olga', 'olga-password');
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    expect((await verifier.verify(after)).roles).toEqual(['editor']);
    // The old key is still published (not removed), so earlier tokens stay valid until they expire.
    expect((await verifier.verify(before)).username).toBe('olga');
  });

  test('a realm token is refused once it expires', async () => {
    const verifier = new KeycloakVerifier({
      issuer: realm.issuer,
      audience: 'muxly-api',
      algorithms: ['RS256'],
      roleSource: 'realm',
      roleMapping: {},
    });
    await realm.admin('PUT', '', { accessTokenLifespan: 1 });
    const token = await keycloakToken(realm.name, 'olga', 'olga-password');
    expect((await verifier.verify(token)).username).toBe('olga');
    // exp is one second away; the verifier's clock tolerance is 5 s.
    const refusal = await waitFor(
      'the token to expire',
      async () =>
        verifier.verify(token).then(
          () => undefined,
          (error: unknown) => error,
        ),
      60_000,
      500,
    );
    expect(refusal).toMatchObject({ code: 'ERR_JWT_EXPIRED' });
  });
});
