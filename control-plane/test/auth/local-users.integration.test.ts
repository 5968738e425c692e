import { expectProblem } from '../harness.ts';
import { ADMIN, queryRows, startAuthHarness, type AuthHarness } from './support.ts';

// Local users against a real control plane and PostgreSQL: first admin from settings, login,
// rotating refresh tokens with reuse detection, logout, password change, lockout, user admin.

let harness: AuthHarness;
beforeAll(async () => {
  harness = await startAuthHarness({
    lockout: { maxFailuresPerAccount: 3, maxFailuresPerAddress: 50, windowSeconds: 60 },
  });
});
afterAll(async () => harness?.close());

const sql = <T>(query: string, params: unknown[] = []) => queryRows<T>(harness.database, query, params);

test('the first admin comes from settings, with an argon2id hash at or above OWASP parameters', async () => {
  const [row] = await sql<{ password_hash: string; roles: string[] }>(
    `select u.password_hash, array(select role_id from user_roles where user_id = u.id) as roles from users u where username = $1`,
    [ADMIN.email],
  );
  expect(row!.roles).toEqual(['admin']);
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(row!.password_hash);
  expect(match).not.toBeNull();
  expect(Number(match![1])).toBeGreaterThanOrEqual(19_456);
  expect(Number(match![2])).toBeGreaterThanOrEqual(2);
  expect(Number(match![3])).toBeGreaterThanOrEqual(1);
});

test('login answers a short-lived access token and a refresh token; the access token opens the API', async () => {
  const answer = await harness.api('POST', '/api/v1/auth/login', {
    body: { username: ADMIN.email, password: ADMIN.password },
  });
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({
    tokenType: 'Bearer',
    accessToken: expect.any(String),
    expiresIn: 300,
    refreshToken: expect.stringMatching(/^ses_/),
    refreshExpiresAt: expect.any(String),
  });
  const [header] = answer.body.accessToken.split('.');
  expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
  const me = await harness.api('GET', '/api/v1/auth/me', { token: answer.body.accessToken });
  expect(me.status).toBe(200);
  expect(me.body).toMatchObject({ kind: 'user', username: ADMIN.email, roles: ['admin'] });
  expect(me.body.permissions).toEqual(expect.arrayContaining(['users:write', 'connectors:write', 'api-keys:write']));
  expect((await harness.api('GET', '/api/v1/connectors', { token: answer.body.accessToken })).status).toBe(200);
  expectProblem(await harness.api('GET', '/api/v1/connectors'), 401);
});

test('a wrong password is 401 and does not say whether the user exists', async () => {
  const wrong = expectProblem(
    await harness.api('POST', '/api/v1/auth/login', { body: { username: ADMIN.email, password: 'not-the-password' } }),
    401,
  );
  const unknown = expectProblem(
    await harness.api('POST', '/api/v1/auth/login', {
      body: { username: 'nobody@example.test', password: 'not-the-password' },
    }),
    401,
  );
  expect(unknown.detail).toBe(wrong.detail);
});

test('refresh tokens rotate; replaying a used one revokes the whole session', async () => {
  const first = await harness.login(ADMIN.email, ADMIN.password);
  const second = await harness.api('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
  expect(second.status).toBe(200);
  expect(second.body.refreshToken).not.toBe(first.refreshToken);
  const third = await harness.api('POST', '/api/v1/auth/refresh', { body: { refreshToken: second.body.refreshToken } });
  expect(third.status).toBe(200);
  expect((await harness.api('GET', '/api/v1/auth/me', { token: third.body.accessToken })).status).toBe(200);

  // The first token again (stolen and replayed): refused, and the live session dies with it.
  expectProblem(await harness.api('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } }), 401);
  expectProblem(
    await harness.api('POST', '/api/v1/auth/refresh', { body: { refreshToken: third.body.refreshToken } }),
    401,
  );
  expectProblem(await harness.api('GET', '/api/v1/auth/me', { token: third.body.accessToken }), 401);
  const [stored] = await sql<{ refresh_token_hash: string; revoked_at: Date | null }>(
    `select refresh_token_hash, revoked_at from sessions where id = $1`,
    [first.refreshToken.split('.')[0]],
  );
  expect(stored!.revoked_at).not.toBeNull();
  expect(stored!.refresh_token_hash).toMatch(/^[0-9a-f]{64}$/);
  expect(JSON.stringify(stored)).not.toContain(third.body.refreshToken.split('.')[1]);
});

test('logout ends the session: its access and refresh tokens stop working', async () => {
  const tokens = await harness.login(ADMIN.email, ADMIN.password);
  expect((await harness.api('POST', '/api/v1/auth/logout', { token: tokens.accessToken })).status).toBe(204);
  expectProblem(await harness.api('GET', '/api/v1/auth/me', { token: tokens.accessToken }), 401);
  expectProblem(
    await harness.api('POST', '/api/v1/auth/refresh', { body: { refreshToken: tokens.refreshToken } }),
    401,
  );
});

test('users: an admin creates one; the new user changes their password; other sessions end', async () => {
  const admin = await harness.login(ADMIN.email, ADMIN.password);
  const created = await harness.api('POST', '/api/v1/users', {
    token: admin.accessToken,
    body: { username: 'carol', email: 'carol@example.test', password: 'carol-password-1', roles: ['viewer'] },
  });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    id: expect.stringMatching(/^usr_/),
    username: 'carol',
    roles: ['viewer'],
    hasPassword: true,
    disabled: false,
  });
  expect(JSON.stringify(created.body)).not.toMatch(/argon2|carol-password/);
  expectProblem(
    await harness.api('POST', '/api/v1/users', {
      token: admin.accessToken,
      body: { username: 'weak', password: 'short', roles: [] },
    }),
    422,
  );
  expectProblem(
    await harness.api('POST', '/api/v1/users', {
      token: admin.accessToken,
      body: { username: 'carol', password: 'carol-password-1', roles: [] },
    }),
    409,
  );
  expectProblem(
    await harness.api('POST', '/api/v1/users', {
      token: admin.accessToken,
      body: { username: 'x1', password: 'carol-password-1', roles: ['no-such-role'] },
    }),
    422,
  );

  const other = await harness.login('carol', 'carol-password-1');
  const current = await harness.login('carol@example.test', 'carol-password-1');
  expectProblem(
    await harness.api('POST', '/api/v1/auth/password', {
      token: current.accessToken,
      body: { currentPassword: 'wrong-password-1', newPassword: 'carol-new-password' },
    }),
    403,
  );
  expectProblem(
    await harness.api('POST', '/api/v1/auth/password', {
      token: current.accessToken,
      body: { currentPassword: 'carol-password-1', newPassword: 'short' },
    }),
    422,
  );
  expect(
    (
      await harness.api('POST', '/api/v1/auth/password', {
        token: current.accessToken,
        body: { currentPassword: 'carol-password-1', newPassword: 'carol-new-password' },
      })
    ).status,
  ).toBe(204);
  expect((await harness.api('GET', '/api/v1/auth/me', { token: current.accessToken })).status).toBe(200);
  expectProblem(await harness.api('GET', '/api/v1/auth/me', { token: other.accessToken }), 401);
  expectProblem(
    await harness.api('POST', '/api/v1/auth/login', { body: { username: 'carol', password: 'carol-password-1' } }),
    401,
  );
  await harness.login('carol', 'carol-new-password');

  // Disabling a user ends their sessions at once.
  const disabled = await harness.api('PATCH', `/api/v1/users/${created.body.id}`, {
    token: admin.accessToken,
    body: { disabled: true },
  });
  expect(disabled.body.disabled).toBe(true);
  expectProblem(await harness.api('GET', '/api/v1/auth/me', { token: current.accessToken }), 401);
  expectProblem(
    await harness.api('POST', '/api/v1/auth/login', { body: { username: 'carol', password: 'carol-new-password' } }),
    401,
  );
  expect((await harness.api('DELETE', `/api/v1/users/${created.body.id}`, { token: admin.accessToken })).status).toBe(
    204,
  );
  expectProblem(await harness.api('GET', `/api/v1/users/${created.body.id}`, { token: admin.accessToken }), 404);
});

test('an admin cannot lock themselves out', async () => {
  const admin = await harness.login(ADMIN.email, ADMIN.password);
  const me = await harness.api('GET', '/api/v1/auth/me', { token: admin.accessToken });
  expectProblem(
    await harness.api('PATCH', `/api/v1/users/${me.body.id}`, { token: admin.accessToken, body: { disabled: true } }),
    409,
  );
  expectProblem(await harness.api('DELETE', `/api/v1/users/${me.body.id}`, { token: admin.accessToken }), 409);
});

test('repeated failed logins lock the account: 429 with Retry-After, even with the right password', async () => {
  const admin = await harness.login(ADMIN.email, ADMIN.password);
  await harness.api('POST', '/api/v1/users', {
    token: admin.accessToken,
    body: { username: 'dave', password: 'dave-password-12', roles: ['viewer'] },
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    expectProblem(
      await harness.api('POST', '/api/v1/auth/login', {
        body: { username: 'dave', password: `guess-${attempt}-xxxxxx` },
      }),
      401,
    );
  }
  const locked = await harness.api('POST', '/api/v1/auth/login', {
    body: { username: 'dave', password: 'dave-password-12' },
  });
  expectProblem(locked, 429);
  expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  // Other accounts are not affected.
  await harness.login(ADMIN.email, ADMIN.password);
});

test('a burst of parallel guesses is cut at the limit: the rest are 429 before any password is checked', async () => {
  const admin = await harness.login(ADMIN.email, ADMIN.password);
  await harness.api('POST', '/api/v1/users', {
    token: admin.accessToken,
    body: { username: 'erin', email: 'erin@example.test', password: 'erin-password-12', roles: ['viewer'] },
  });
  // Guesses under the user name and under the email count for the same account.
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, attempt) =>
      harness.api('POST', '/api/v1/auth/login', {
        body: { username: attempt % 2 ? 'erin' : 'ERIN@example.test', password: `guess-${attempt}-xxxxxx` },
      }),
    ),
  );
  const statuses = answers.map((answer) => answer.status).sort();
  expect(statuses).toEqual([...Array(3).fill(401), ...Array(9).fill(429)]);
});

test('a user name or email another user signs in with cannot be taken (login accepts either)', async () => {
  const admin = await harness.login(ADMIN.email, ADMIN.password);
  const frank = await harness.api('POST', '/api/v1/users', {
    token: admin.accessToken,
    body: { username: 'frank', email: 'frank@example.test', password: 'frank-password-12', roles: ['viewer'] },
  });
  expect(frank.status).toBe(201);
  expectProblem(
    await harness.api('POST', '/api/v1/users', {
      token: admin.accessToken,
      body: { username: 'frank@example.test', password: 'grace-password-12', roles: [] },
    }),
    409,
  );
  const grace = await harness.api('POST', '/api/v1/users', {
    token: admin.accessToken,
    body: { username: 'grace', password: 'grace-password-12', roles: [] },
  });
  expect(grace.status).toBe(201);
  const graceToken = (await harness.login('grace', 'grace-password-12')).accessToken;
  expectProblem(
    await harness.api('PATCH', '/api/v1/auth/me', { token: graceToken, body: { email: 'FRANK@example.test' } }),
    409,
  );
  expectProblem(
    await harness.api('PATCH', `/api/v1/users/${grace.body.id}`, {
      token: admin.accessToken,
      body: { email: 'frank@example.test' },
    }),
    409,
  );
  expect(
    (await harness.api('PATCH', '/api/v1/auth/me', { token: graceToken, body: { email: 'grace@example.test' } }))
      .status,
  ).toBe(200);
  await harness.login('grace@example.test', 'grace-password-12');
  await harness.login('frank@example.test', 'frank-password-12');
});

test('guessing the current password with a stolen access token is locked like guessing at login', async () => {
  const admin = await harness.login(ADMIN.email, ADMIN.password);
  await harness.api('POST', '/api/v1/users', {
    token: admin.accessToken,
    body: { username: 'heidi', password: 'heidi-password-12', roles: ['viewer'] },
  });
  const stolen = (await harness.login('heidi', 'heidi-password-12')).accessToken;
  for (let attempt = 0; attempt < 3; attempt++) {
    expectProblem(
      await harness.api('POST', '/api/v1/auth/password', {
        token: stolen,
        body: { currentPassword: `guess-${attempt}-xxxxxx`, newPassword: 'taken-over-password' },
      }),
      403,
    );
  }
  const locked = await harness.api('POST', '/api/v1/auth/password', {
    token: stolen,
    body: { currentPassword: 'heidi-password-12', newPassword: 'taken-over-password' },
  });
  expectProblem(locked, 429);
  expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  expectProblem(
    await harness.api('POST', '/api/v1/auth/login', { body: { username: 'heidi', password: 'heidi-password-12' } }),
    429,
  );
});
