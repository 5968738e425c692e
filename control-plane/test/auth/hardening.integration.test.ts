import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload } from 'jose';
import { readOpenApi } from '../../src/http/docs.ts';
import { expectProblem } from '../harness.ts';
import { ADMIN, KEYCLOAK_URL, keycloakToken, requireKeycloak, startAuthHarness, type AuthHarness } from './support.ts';

// Forged and broken tokens are refused; fields only the server sets cannot be set through the
// API; no password, token, key or password hash appears in any answer or log line.

let harness: AuthHarness;
let real: { accessToken: string; refreshToken: string };
let claims: JWTPayload;
const answers: string[] = [];
/** Genuine Keycloak access tokens presented during the tests: they must not reach a log line either. */
const keycloakTokens: string[] = [];
const realmToken = async (realm: string, user: string, password: string) => {
  const token = await keycloakToken(realm, user, password);
  keycloakTokens.push(token);
  return token;
};

beforeAll(async () => {
  await requireKeycloak();
  harness = await startAuthHarness({ keycloak: { issuer: 'http://127.0.0.1:8180/realms/muxly' } });
  real = await harness.login(ADMIN.email, ADMIN.password);
  claims = decodeJwt(real.accessToken);
});
afterAll(async () => harness?.close());

async function call(
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
) {
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
  [
    'HS256 signed with the public key as the secret',
    async () => sign(valid(), new TextEncoder().encode(harness.signingKey.publicPem) as never, 'HS256'),
  ],
  ['a wrong issuer', async () => sign({ ...valid(), iss: 'https://evil.example' })],
  ['a wrong audience', async () => sign({ ...valid(), aud: 'another-api' })],
  ['expired', async () => sign({ ...valid(), iat: now() - 600, exp: now() - 300 })],
  ['not yet valid', async () => sign({ ...valid(), nbf: now() + 300 })],
  ['no expiry', async () => sign({ ...valid(), exp: undefined })],
  [
    'a tampered payload',
    async () => {
      const [header, , signature] = real.accessToken.split('.');
      return `${header}.${base64url({ ...claims, sub: 'usr_someone_else', exp: now() + 3600 })}.${signature}`;
    },
  ],
  ['signed by another Ed25519 key', async () => sign(valid(), generateKeyPairSync('ed25519').privateKey)],
  ['a realm this control plane does not trust', () => realmToken('other', 'mallory', 'mallory-password')],
  ['garbage', async () => 'not.a.token'],
])('a token with %s is refused with 401', async (_name, forge) => {
  const answer = await call('GET', '/api/v1/connectors', { token: await forge() });
  expectProblem(answer, 401);
  expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
});

// Forgeries that claim the trusted Keycloak realm as issuer, so they take the JWKS path.
async function realmForgery(kind: 'none' | 'hs256' | 'foreign-key'): Promise<string> {
  const token = await realmToken('muxly', 'victor', 'victor-password');
  const payload = { ...decodeJwt(token), realm_access: { roles: ['muxly-admin'] } };
  const { kid } = decodeProtectedHeader(token);
  if (kind === 'none') return `${base64url({ alg: 'none', typ: 'JWT', kid })}.${base64url(payload)}.`;
  if (kind === 'hs256') {
    // The classic confusion: the realm's public key material used as an HMAC secret.
    const jwks = (await (await fetch(`${KEYCLOAK_URL}/realms/muxly/protocol/openid-connect/certs`)).json()) as {
      keys: { kid: string; n?: string }[];
    };
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys.find((key) => key.kid === kid)));
    return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).sign(secret);
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(privateKey);
}

test.each([
  ['alg none', () => realmForgery('none')],
  ['HS256 keyed with the realm public key', () => realmForgery('hs256')],
  ['RS256 signed by a foreign key under the realm key id', () => realmForgery('foreign-key')],
])('a token claiming the trusted realm with %s is refused with 401', async (_name, forge) => {
  expectProblem(await call('GET', '/api/v1/users', { token: await forge() }), 401);
});

test('a Keycloak token from the trusted realm with a forged signature is refused', async () => {
  const token = await realmToken('muxly', 'victor', 'victor-password');
  expect((await call('GET', '/api/v1/connectors', { token })).status).toBe(200);
  const [header, , signature] = token.split('.');
  const forged = `${header}.${base64url({ ...decodeJwt(token), realm_access: { roles: ['muxly-admin'] } })}.${signature}`;
  // The forgery claims the admin role the real token lacks; only the signature gives it away.
  expect(decodeJwt(token).realm_access).not.toEqual({ roles: ['muxly-admin'] });
  expect(decodeJwt(forged)).toMatchObject({ realm_access: { roles: ['muxly-admin'] } });
  expectProblem(await call('GET', '/api/v1/users', { token: forged }), 401);
});

test.each([
  ['POST', '/api/v1/users', { id: 'usr_chosen', username: 'u1', password: 'u1-password-1234', roles: [] }],
  [
    'POST',
    '/api/v1/users',
    { username: 'u2', password: 'u2-password-1234', roles: [], createdAt: '2000-01-01T00:00:00Z' },
  ],
  [
    'POST',
    '/api/v1/users',
    { username: 'u3', password: 'u3-password-1234', roles: [], passwordHash: '$argon2id$v=19$m=1,t=1,p=1$x$y' },
  ],
  ['PATCH', '/api/v1/auth/me', { roles: ['admin'] }],
  ['PATCH', '/api/v1/auth/me', { disabled: false }],
  ['POST', '/api/v1/roles', { name: 'r1', permissions: [], builtin: true }],
  [
    'POST',
    '/api/v1/api-keys',
    { name: 'k1', scopes: ['metrics:write'], key: 'mxk_chosen_by_the_client_0000000000000000000' },
  ],
  ['POST', '/api/v1/api-keys', { name: 'k2', scopes: ['metrics:write'], revokedAt: null, createdBy: 'usr_x' }],
])('%s %s refuses a field only the server sets', async (method, path, body) => {
  const admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  expectProblem(await call(method, path, { token: admin, body }), 400);
});

// Generated from the OpenAPI document: for every operation with a JSON body, each field its
// answer carries but its request does not accept (ids chosen by the server, timestamps,
// versions, flags such as builtin, hasPassword, credentialsSet, revokedAt, a key's secret) is
// refused with 400 naming the field, before anything runs.
const { document } = readOpenApi();
type Schema = {
  $ref?: string;
  properties?: Record<string, unknown>;
  required?: string[];
  additionalProperties?: unknown;
  content?: Record<string, { schema?: Schema }>;
};
const resolve = (schema: Schema | undefined): Schema | undefined => {
  let current = schema;
  while (current?.$ref)
    current = current.$ref
      .split('/')
      .slice(1)
      .reduce<Record<string, unknown>>(
        (node, key) => node[key] as Record<string, unknown>,
        document as unknown as Record<string, unknown>,
      ) as Schema;
  return current;
};
const bodyOperations = Object.entries(document.paths).flatMap(([path, item]) =>
  (['post', 'put', 'patch'] as const).flatMap((method) => {
    const operation = item[method] as { requestBody?: Schema; responses: Record<string, Schema> } | undefined;
    const request = resolve(resolve(operation?.requestBody)?.content?.['application/json']?.schema);
    if (!operation || !request) return [];
    const success = Object.entries(operation.responses).find(([code]) => code.startsWith('2'))?.[1];
    const answer = resolve(resolve(success)?.content?.['application/json']?.schema);
    const serverOnly = Object.keys(answer?.properties ?? {}).filter((field) => !(field in (request.properties ?? {})));
    return [{ method: method.toUpperCase(), path, request, serverOnly }];
  }),
);
const serverOnlyCases = bodyOperations.flatMap((operation) =>
  operation.serverOnly.map((field) => [`${operation.method} ${operation.path}`, field, operation] as const),
);

test('every request body refuses unknown fields, and the generated cases cover the server-set fields', () => {
  expect(
    bodyOperations
      .filter((operation) => operation.request.additionalProperties !== false)
      .map((operation) => `${operation.method} ${operation.path}`),
  ).toEqual([]);
  const fields = new Set(serverOnlyCases.map(([, field]) => field));
  for (const field of [
    'createdAt',
    'updatedAt',
    'version',
    'builtin',
    'hasPassword',
    'credentialsSet',
    'secretSet',
    'revokedAt',
    'createdBy',
    'key',
    'prefix',
  ])
    expect(fields).toContain(field);
});

test.each(serverOnlyCases)('%s refuses the server-set field %s', async (_name, field, operation) => {
  // The required fields are present (whatever their values), so the unknown field is the first problem the validator meets.
  const body = {
    ...Object.fromEntries((operation.request.required ?? []).map((name) => [name, 'x'])),
    [field]: '2000-01-01T00:00:00Z',
  };
  const answer = await call(operation.method, operation.path.replace(/\{[^}]+\}/g, 'server-only'), {
    token: real.accessToken,
    body,
    headers: { 'if-match': '"1"' },
  });
  const problem = expectProblem(answer, 400);
  expect(problem.errors?.map((error: { pointer: string }) => error.pointer)).toContain(`/body/${field}`);
});

test('a self-update cannot grant roles; a viewer cannot escalate through users or API keys', async () => {
  const admin = (await harness.login(ADMIN.email, ADMIN.password)).accessToken;
  await call('POST', '/api/v1/users', {
    token: admin,
    body: { username: 'vera', password: 'vera-password-123', roles: ['viewer'] },
  });
  const vera = (await harness.login('vera', 'vera-password-123')).accessToken;
  expectProblem(
    await call('PATCH', '/api/v1/auth/me', { token: vera, body: { displayName: 'Vera', roles: ['admin'] } }),
    400,
  );
  const me = await call('GET', '/api/v1/auth/me', { token: vera });
  expectProblem(await call('PATCH', `/api/v1/users/${me.body.id}`, { token: vera, body: { roles: ['admin'] } }), 403);
  expectProblem(
    await call('POST', '/api/v1/api-keys', { token: vera, body: { name: 'mine', scopes: ['users:write'] } }),
    403,
  );
  expect((await call('GET', '/api/v1/auth/me', { token: vera })).body.roles).toEqual(['viewer']);
});

test('no password, token, API key or password hash appears in any answer or log line', async () => {
  const admin = await harness.login(ADMIN.email, ADMIN.password);
  const refreshed = await call('POST', '/api/v1/auth/refresh', { body: { refreshToken: admin.refreshToken } });
  const key = await call('POST', '/api/v1/api-keys', {
    token: refreshed.body.accessToken,
    body: { name: 'writer', scopes: ['metrics:write'] },
  });
  expect(key.body.key).toMatch(/^mxk_[A-Za-z0-9_-]{43}$/);
  await call('GET', '/api/v1/api-keys', { token: refreshed.body.accessToken });
  await call('GET', `/api/v1/api-keys/${key.body.id}`, { token: refreshed.body.accessToken });
  await call('GET', '/api/v1/users', { token: key.body.key });
  await call('POST', '/api/v1/auth/login', { body: { username: ADMIN.email, password: 'wrong-password-but-secret' } });
  await call('POST', '/api/v1/auth/password', {
    token: refreshed.body.accessToken,
    body: { currentPassword: ADMIN.password, newPassword: 'the-new-admin-password' },
  });
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
  expect(keycloakTokens.length).toBeGreaterThan(3);
  for (const token of keycloakTokens)
    expect(harness.logs.filter((line) => line.includes(token.split('.')[2]!))).toEqual([]);
  expect(harness.logs.length).toBeGreaterThan(10);
  for (const secret of secrets) {
    expect(harness.logs.filter((line) => line.includes(secret))).toEqual([]);
    // The API key is shown once: in its create answer, nowhere else.
    const shownIn = answers.filter((answer) => answer.includes(secret));
    expect(shownIn.length).toBeLessThanOrEqual(
      secret === key.body.key
        ? 1
        : secret.startsWith('ey') || secret === refreshed.body.refreshToken.split('.')[1]
          ? 1
          : 0,
    );
  }
});
