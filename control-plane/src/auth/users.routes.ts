import { Router } from 'express';
import { ApiProblem, conflict, notFound, unprocessable } from '../http/problem.ts';
import { iso, newId, param } from '../resources/common.ts';
import { principalOf } from './authorization.ts';
import type { AuthContext } from './context.ts';
import { hashPassword, passwordProblem } from './passwords.ts';
import { ensureHeld, may, type Principal } from './principal.ts';
import {
  findUser,
  listUsers,
  loginTaken,
  permissionsOfRoles,
  roleIds,
  setUserRoles,
  type Sql,
  type UserRow,
} from './store.ts';

// Local users (admins manage them). The password hash never leaves this file: views list the
// fields a client may see, and the request schemas (additionalProperties: false) refuse the
// fields only the server sets (id, createdAt, passwordHash…).

export function userView(user: UserRow) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    displayName: user.display_name,
    disabled: user.disabled,
    roles: user.roles,
    hasPassword: user.password_hash !== null,
    version: user.version,
    createdAt: iso(user.created_at)!,
    updatedAt: iso(user.updated_at)!,
  };
}

async function resolveRoles(em: Sql, names: readonly string[]): Promise<string[]> {
  const { ids, missing } = await roleIds(em, names);
  if (missing.length > 0)
    throw unprocessable(`no such role: ${missing.join(', ')}`, [
      { pointer: '/body/roles', detail: `unknown role(s): ${missing.join(', ')}` },
    ]);
  return ids;
}

function checkPassword(password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (problem) throw unprocessable(problem, [{ pointer: '/body/password', detail: problem }]);
}

export interface NewUser {
  username: string;
  email?: string | null;
  displayName?: string | null;
  password: string;
  roles: string[];
  disabled?: boolean;
}

/**
 * Refuses a user name or email another user already signs in with: login accepts either, so an
 * overlap would let one account shadow another.
 */
export async function checkLoginsFree(
  em: Sql,
  logins: { username?: string | undefined; email?: string | null | undefined },
  exceptUserId?: string,
): Promise<void> {
  if (logins.username !== undefined && (await loginTaken(em, logins.username, exceptUserId))) {
    throw conflict('duplicate', `a user named "${logins.username}" already exists (as a user name or an email)`);
  }
  if (logins.email && (await loginTaken(em, logins.email, exceptUserId))) {
    throw conflict('duplicate', `another user already signs in with "${logins.email}" (as a user name or an email)`);
  }
}

/** Creates a local user (API, first admin, CLI); the password policy applies. */
export async function createUser(em: Sql, user: NewUser): Promise<UserRow> {
  checkPassword(user.password, user.username);
  await checkLoginsFree(em, user);
  const roles = await resolveRoles(em, user.roles);
  const id = newId('usr');
  await em.execute(
    `insert into users (id, username, email, display_name, password_hash, disabled) values (?, ?, ?, ?, ?, ?)`,
    [
      id,
      user.username,
      user.email ?? null,
      user.displayName ?? null,
      await hashPassword(user.password),
      user.disabled ?? false,
    ],
  );
  await setUserRoles(em, id, roles);
  return (await findUser(em, { id }))!;
}

/**
 * Nobody grants what they do not hold: the roles given must carry only permissions the caller
 * holds, and a user who holds more than the caller cannot be changed or deleted by them (a new
 * password would let the caller sign in as that user).
 */
async function ensureMayManage(em: Sql, principal: Principal, user: UserRow): Promise<void> {
  const beyond = [...(await permissionsOfRoles(em, user.roles))].filter((permission) => !may(principal, permission));
  if (beyond.length > 0)
    throw new ApiProblem(
      403,
      'forbidden',
      `you cannot change a user who holds permissions you do not hold: ${beyond.sort().join(', ')}`,
    );
}

const ensureMayGiveRoles = async (em: Sql, principal: Principal, roles: readonly string[]) =>
  ensureHeld(principal, await permissionsOfRoles(em, roles));

export function userRoutes(auth: AuthContext): Router {
  const router = Router();

  router.get('/api/v1/users', async (_request, response) => {
    response.json({ items: (await listUsers(auth.orm.em.fork())).map(userView) });
  });

  router.post('/api/v1/users', async (request, response) => {
    const body = request.body as NewUser;
    const principal = principalOf(response)!;
    const user = await auth.orm.em.fork().transactional(async (em) => {
      await ensureMayGiveRoles(em, principal, body.roles);
      return createUser(em, body);
    });
    auth.logger.info('user created', { userId: user.id, by: principalOf(response)?.name });
    response.status(201).setHeader('Location', `/api/v1/users/${user.id}`).json(userView(user));
  });

  router.get('/api/v1/users/:id', async (request, response) => {
    const user = await findUser(auth.orm.em.fork(), { id: param(request, 'id') });
    if (!user) throw notFound('user', param(request, 'id'));
    response.json(userView(user));
  });

  router.patch('/api/v1/users/:id', async (request, response) => {
    const id = param(request, 'id');
    const body = request.body as {
      email?: string | null;
      displayName?: string | null;
      disabled?: boolean;
      roles?: string[];
      password?: string;
    };
    const principal = principalOf(response)!;
    const updated = await auth.orm.em.fork().transactional(async (em) => {
      const user = await findUser(em, { id });
      if (!user) throw notFound('user', id);
      await ensureMayManage(em, principal, user);
      if (body.roles)
        await ensureMayGiveRoles(
          em,
          principal,
          body.roles.filter((role) => !user.roles.includes(role)),
        );
      if (
        principal.id === id &&
        (body.disabled === true || (body.roles && !body.roles.includes('admin') && user.roles.includes('admin')))
      ) {
        throw new ApiProblem(
          409,
          'self-lockout',
          'you cannot disable yourself or remove your own admin role; ask another admin',
        );
      }
      if (body.password !== undefined) checkPassword(body.password, user.username);
      await checkLoginsFree(em, { email: body.email }, id);
      await em.execute(
        `update users set email = ?, display_name = ?, disabled = ?, password_hash = ?, version = version + 1, updated_at = now() where id = ?`,
        [
          body.email === undefined ? user.email : body.email,
          body.displayName === undefined ? user.display_name : body.displayName,
          body.disabled ?? user.disabled,
          body.password === undefined ? user.password_hash : await hashPassword(body.password),
          id,
        ],
      );
      if (body.roles) await setUserRoles(em, id, await resolveRoles(em, body.roles));
      // A disabled user or a reset password ends every session at once.
      if (body.disabled === true || body.password !== undefined) await auth.sessions.revokeAllOf(em, id);
      return (await findUser(em, { id }))!;
    });
    response.json(userView(updated));
  });

  router.delete('/api/v1/users/:id', async (request, response) => {
    const id = param(request, 'id');
    const principal = principalOf(response)!;
    if (principal.id === id) throw new ApiProblem(409, 'self-lockout', 'you cannot delete yourself; ask another admin');
    await auth.orm.em.fork().transactional(async (em) => {
      const user = await findUser(em, { id });
      if (!user) throw notFound('user', id);
      await ensureMayManage(em, principal, user);
      // Their API keys go with them (the foreign key cascades).
      await em.execute(`delete from users where id = ?`, [id]);
    });
    response.status(204).end();
  });

  return router;
}
