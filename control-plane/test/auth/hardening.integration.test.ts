import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { decodeJwt, SignJWT, type JWTPayload } from 'jose';
import { expectProblem } from '../harness.ts';
import { ADMIN, keycloakToken, requireKeycloak, startAuthHarness, type AuthHarness } from './support.ts';

// Forged and broken tokens are refused; fields only the server sets cannot be set through the
// API; no password, token, key or password hash appears in any answer or log line.

let harness: AuthHarness;
let real: { accessToken: string; refreshToken: string };
let claims: JWTPayload;
const answers: string[] = [];

beforeAll(async () => {
  await requireKeycloak();
  harness = await startAuthHarness({ keycloak: { issuer: 'http://127.0.0.1:8180/realms/muxly' } });
  real = await harness.login(ADMIN.email, ADMIN.password);
  claims = decodeJwt(real.accessToken);
});
afterAll(async () => harness?.close());

async function call(method: string, path: string, options: { body?: unknown; token?: string } = {}) {
  const answer = await harness.api(method, path, options);
  answers.push(JSON.stringify({ headers: Object.fromEntries(answer.headers), body: answer.body }));
  return answer;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function sign(payload: JWTPayload, key = createPrivateKey(harness.signingKey.privatePem), alg = 'EdDSA') {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
}

const valid = () => ({ ...claims, iat: now(), nbf: now(), exp: now() + 60 });

test('a token signed like the server does is accepted (the control case for the forgeries below)', async () => {
  expect((await call('GET', '/api/v1/auth/me', { token: await sign(valid()) })).status).toBe(200);
});

test.each([
  ['alg none', async () => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(valid())}.`],
  ['HS256 signed with the public key as the secret', async () => sign(valid(), new TextEncoder().encode(harness.signingKey.publicPem) as never, 'HS256')],
  ['a wrong issuer', async () => sign({ ...valid(), iss: 'https://evil.example' })],
  ['a wrong audience', async () => sign({ ...valid(), aud: 'another-api' })],
  ['expired', async () => sign({ ...valid(), iat: now() - 600, exp: now() - 300 })],
  ['not yet valid', async () => sign({ ...valid(), nbf: now() + 300 })],
  ['no expiry', async () => sign({ ...valid(), exp: undefined })],
  ['a tampered payload', async () => {
    const [header, , signature] = real.accessToken.split('.');
    return `${header}.${base64url({ ...claims, sub: 'usr_someone_else', exp: now() + 3600 })}.${signature}`;
  }],
  ['signed by another Ed25519 key', async () => sign(valid(), generateKeyPairSync('ed25519').privateKey)],
  ['a realm this control plane does not trust', () => keycloakToken('other', 'mallory', 'mallory-password')],
  ['garbage', async () => 'not.a.token'],
])('a token with %s is refused with 401', async (_name, forge) => {
  const answer = await call('GET', '/api/v1/connectors', { token: await forge() });
  expectProblem(answer, 401);
  expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
});

test('a Keycloak token from the trusted realm with a forged signature is refused', async () => {
  const token = await keycloakToken('muxly', 'victor', 'victor-password');
  expect((await call('GET', '/api/v1/connectors', { token })).status).toBe(200);
  const [header, payload] = token.split('.');
  const forged = `${header}.${base64url({ ...decodeJwt(token), realm_access: { roles: ['muxly-admin'] } })}.${token.split('.')[2]}`;
  expectProblem(await call('GET', '/api/v1/users', { token: forged }), 401);
  expect(payload).toBeTruthy();
});

test.each([
  ['POST', '/api/v1/users', { id: 'usr_chosen', username: 'u1', password: 'u1-password-1234', roles: [] }],
  ['POST', '/api/v1/users', { username: 'u2', password: 'u2-password-1234', roles: [], createdAt: '2000-01-01T00:00:00Z' }],
  ['POST', '/api/v1/users', { username: 'u3', password: 'u3-password-1234', roles: [], passwordHash: '$argon2id$v=19$m=1,t=1,p=1$x$y' }],
  ['PATCH', '/api/v1/auth/me', { roles: ['admin'] }],
  ['PATCH', '/api/v1/auth/me', { disabled: false }],
  ['POST', '/api/v1/roles', { name: 'r1', permissions: [], builtin: true }],
  ['POST', '/api/v1/api-keys', { name: 'k1', scopes: ['metrics:write'], key: 'mxk_chosen_by_the_client_0000000000000000000' }],
  ['POST', '/api/v1/api-keys', { name: 'k2', scopes: ['metrics:write'], revokedAt: null, createdBy: 'usr_x' }],
])('%s %s refuses a field only the server sets', async (method, path, body) => {
  const admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  expectProblem(await call(method, path, { token: admin, body }), 400);
});

test('a self-update cannot grant roles; a viewer cannot escalate through users or API keys', async () => {
  const admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  await call('POST', '/api/v1/users', { token: admin, body: { username: 'vera', password: 'vera-password-123', roles: ['viewer'] } });
  const vera = (await harness.login('vera', 'vera-password-123')).accessToken;
  expectProblem(await call('PATCH', '/api/v1/auth/me', { token: vera, body: { displayName: 'Vera', roles: ['admin'] } }), 400);
  const me = await call('GET', '/api/v1/auth/me', { token: vera });
  expectProblem(await call('PATCH', `/api/v1/users/${me.body.id}`, { token: vera, body: { roles: ['admin'] } }), 403);
  expectProblem(await call('POST', '/api/v1/api-keys', { token: vera, body: { name: 'mine', scopes: ['users:write'] } }), 403);
  expect((await call('GET', '/api/v1/auth/me', { token: vera })).body.roles).toEqual(['viewer']);
});

test('no password, token, API key or password hash appears in any answer or log line', async () => {
  const admin = await harness.login(ADMIN.email, ADMIN.password);
  const refreshed = await call('POST', '/api/v1/auth/refresh', { body: { refreshToken: admin.refreshToken } });
  const key = await call('POST', '/api/v1/api-keys', { token: refreshed.body.accessToken, body: { name: 'writer', scopes: ['metrics:write'] } });
  expect(key.body.key).toMatch(/^mxk_[A-Za-z0-9_-]{43}$/);
  await call('GET', '/api/v1/api-keys', { token: refreshed.body.accessToken });
  await call('GET', `/api/v1/api-keys/${key.body.id}`, { token: refreshed.body.accessToken });
  await call('GET', '/api/v1/users', { token: key.body.key });
  await call('POST', '/api/v1/auth/login', { body: { username: ADMIN.email, password: 'wrong-password-but-secret' } });
  await call('POST', '/api/v1/auth/password', { token: refreshed.body.accessToken, body: { currentPassword: ADMIN.password, newPassword: 'the-new-admin-password' } });
  await call('GET', '/api/v1/users', { token: refreshed.body.accessToken });

  const secrets = [
    ADMIN.password,
    'the-new-admin-password',
    'wrong-password-but-secret',
    'vera-password-123',
    admin.accessToken,
    admin.refreshToken.split('.')[1]!,
    refreshed.body.refreshToken.split('.')[1]!,
    refreshed.body.accessToken,
    key.body.key,
    harness.signingKey.privatePem.split('\n')[1]!,
    '$argon2',
  ];
  expect(harness.logs.length).toBeGreaterThan(10);
  for (const secret of secrets) {
    expect(harness.logs.filter((line) => line.includes(secret))).toEqual([]);
    // The API key is shown once: in its create answer, nowhere else.
    const shownIn = answers.filter((answer) => answer.includes(secret));
    expect(shownIn.length).toBeLessThanOrEqual(secret === key.body.key ? 1 : secret.startsWith('ey') || secret === refreshed.body.refreshToken.split('.')[1] ? 1 : 0);
  }
});
