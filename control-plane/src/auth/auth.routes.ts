import { Router, type Request, type Response } from 'express';
import { ApiProblem } from '../http/problem.ts';
import { iso } from '../resources/common.ts';
import { principalOf } from './authorization.ts';
import type { AuthContext } from './context.ts';
import { dummyPasswordHash, hashPassword, needsRehash, passwordProblem, verifyPassword } from './passwords.ts';
import { unauthorized, type Principal } from './principal.ts';
import { findUser, type UserRow } from './store.ts';
import { checkLoginsFree, userView } from './users.routes.ts';

// Sign-in for local users: login, refresh (rotating), logout, one's own profile and password; and
// the ways to sign in the console offers (local, and the Keycloak realm's public client).

async function tokenPair(
  auth: AuthContext,
  session: { sessionId: string; userId: string; refreshToken: string; expiresAt: Date },
) {
  return {
    tokenType: 'Bearer',
    accessToken: await auth.tokens.sign({ userId: session.userId, sessionId: session.sessionId }),
    expiresIn: auth.tokens.ttlSeconds,
    refreshToken: session.refreshToken,
    refreshExpiresAt: session.expiresAt.toISOString(),
  };
}

const clientAddress = (request: Request) => request.socket.remoteAddress ?? 'unknown';

function currentPrincipal(response: Response): Principal {
  const principal = principalOf(response);
  if (!principal) throw unauthorized('authentication required');
  return principal;
}

export function authRoutes(auth: AuthContext): Router {
  const router = Router();

  router.post('/api/v1/auth/login', async (request, response) => {
    const { username, password } = request.body as { username: string; password: string };
    const address = clientAddress(request);
    const em = auth.orm.em.fork();
    const user = await findUser(em, { login: username });
    // Failures count per account (by id, so its user name and email share one count) and per address.
    const account = user ? `user:${user.id}` : `login:${username}`;
    const wait = auth.lockout.begin(account, address);
    if (wait > 0) {
      response.setHeader('Retry-After', String(wait));
      throw new ApiProblem(429, 'too-many-attempts', `too many failed sign-ins; try again in ${wait} s`);
    }
    // NOTE: an unknown user still costs one argon2 verification, so timing does not reveal which names exist.
    const valid = await verifyPassword(user?.password_hash ?? (await dummyPasswordHash()), password);
    if (!user || !valid || user.disabled || !user.password_hash) {
      auth.logger.info('sign-in refused', { login: username, address });
      throw unauthorized('wrong user name or password');
    }
    auth.lockout.recordSuccess(account, address);
    if (needsRehash(user.password_hash)) {
      await em.execute(`update users set password_hash = ?, updated_at = now() where id = ?`, [
        await hashPassword(password),
        user.id,
      ]);
    }
    const session = await auth.sessions.create(em, user.id, request.headers['user-agent']);
    auth.logger.info('signed in', { userId: user.id, sessionId: session.sessionId });
    response.json(await tokenPair(auth, session));
  });

  // Public: the sign-in page asks which ways to sign in exist before anyone is signed in.
  router.get('/api/v1/auth/providers', (_request, response) => {
    response.json({ local: true, sso: auth.sso });
  });

  router.post('/api/v1/auth/refresh', async (request, response) => {
    const { refreshToken } = request.body as { refreshToken: string };
    const em = auth.orm.em.fork();
    const outcome = await auth.sessions.refresh(em, refreshToken);
    if (!outcome.ok) {
      throw unauthorized(
        outcome.reason === 'reused'
          ? 'this refresh token was already used; the session is revoked, sign in again'
          : `the refresh token is ${outcome.reason}`,
      );
    }
    const user = await findUser(em, { id: outcome.session.userId });
    if (!user || user.disabled) {
      await auth.sessions.revoke(em, outcome.session.sessionId);
      throw unauthorized('the user no longer exists or is disabled');
    }
    response.json(await tokenPair(auth, outcome.session));
  });

  router.post('/api/v1/auth/logout', async (_request, response) => {
    const principal = currentPrincipal(response);
    if (principal.sessionId) await auth.sessions.revoke(auth.orm.em.fork(), principal.sessionId);
    response.status(204).end();
  });

  router.get('/api/v1/auth/me', async (_request, response) => {
    const principal = currentPrincipal(response);
    response.json(await meView(auth, principal));
  });

  router.patch('/api/v1/auth/me', async (request, response) => {
    const principal = currentPrincipal(response);
    const user = await localUser(auth, principal);
    const body = request.body as { email?: string | null; displayName?: string | null };
    const em = auth.orm.em.fork();
    await checkLoginsFree(em, { email: body.email }, user.id);
    await em.execute(
      `update users set email = ?, display_name = ?, version = version + 1, updated_at = now() where id = ?`,
      [
        body.email === undefined ? user.email : body.email,
        body.displayName === undefined ? user.display_name : body.displayName,
        user.id,
      ],
    );
    response.json(await meView(auth, principal));
  });

  router.post('/api/v1/auth/password', async (request, response) => {
    const principal = currentPrincipal(response);
    const user = await localUser(auth, principal);
    const { currentPassword, newPassword } = request.body as { currentPassword: string; newPassword: string };
    // Guessing the current password with a stolen access token counts like guessing at login.
    const account = `user:${user.id}`;
    const address = clientAddress(request);
    const wait = auth.lockout.begin(account, address);
    if (wait > 0) {
      response.setHeader('Retry-After', String(wait));
      throw new ApiProblem(429, 'too-many-attempts', `too many wrong passwords; try again in ${wait} s`);
    }
    if (!user.password_hash || !(await verifyPassword(user.password_hash, currentPassword)))
      throw new ApiProblem(403, 'wrong-password', 'the current password is wrong');
    auth.lockout.recordSuccess(account, address);
    const problem = passwordProblem(newPassword, user.username);
    if (problem)
      throw new ApiProblem(422, 'weak-password', problem, {
        errors: [{ pointer: '/body/newPassword', detail: problem }],
      });
    const em = auth.orm.em.fork();
    await em.execute(`update users set password_hash = ?, version = version + 1, updated_at = now() where id = ?`, [
      await hashPassword(newPassword),
      user.id,
    ]);
    // Other sessions (maybe an attacker's) end; the one changing the password stays.
    await auth.sessions.revokeAllOf(em, user.id, principal.sessionId);
    auth.logger.info('password changed', { userId: user.id });
    response.status(204).end();
  });

  return router;
}

async function localUser(auth: AuthContext, principal: Principal): Promise<UserRow> {
  if (principal.kind !== 'user')
    throw new ApiProblem(
      409,
      'not-a-local-user',
      'this account is managed by the identity provider (Keycloak); change it there',
    );
  const user = await findUser(auth.orm.em.fork(), { id: principal.id });
  if (!user) throw unauthorized('the user no longer exists');
  return user;
}

async function meView(auth: AuthContext, principal: Principal) {
  const base = {
    kind: principal.kind,
    id: principal.id,
    username: principal.name,
    roles: principal.roles,
    permissions: [...principal.permissions].sort(),
  };
  if (principal.kind !== 'user') return { ...base, email: null, displayName: null, createdAt: null };
  const user = await localUser(auth, principal);
  const view = userView(user);
  return { ...base, email: view.email, displayName: view.displayName, createdAt: iso(user.created_at) };
}
