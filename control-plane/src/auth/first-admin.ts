import type { MikroORM } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Logger } from '@muxly/common';
import { readOpenApi } from '../http/docs.ts';
import { hashPassword, passwordProblem } from './passwords.ts';
import { BUILTIN_ROLES, builtinPermissions, permissionCatalogue, type BuiltinRole } from './permissions.ts';
import { countUsers, findUser, roleIds, setUserRoles, syncCatalogue, type UserRow } from './store.ts';
import { createUser } from './users.routes.ts';

// The first admin: from settings at start (controlPlane.auth.bootstrapAdmin, only while the
// database has no user), or from the `users:create-admin` command (any time; --reset also
// recovers an admin who lost their password).

/** Makes the permission table and the built-in roles match the OpenAPI document; returns the catalogue. */
export async function syncRoles(orm: MikroORM): Promise<string[]> {
  const catalogue = permissionCatalogue(readOpenApi().document);
  const builtins = Object.fromEntries(
    Object.entries(BUILTIN_ROLES).map(([name, role]) => [
      name,
      { description: role.description, permissions: builtinPermissions(name as BuiltinRole, catalogue) },
    ]),
  );
  await orm.em.fork().transactional((em) => syncCatalogue(em, catalogue, builtins));
  return catalogue;
}

export async function bootstrapAdmin(
  orm: MikroORM,
  admin: { email: string; password: string } | undefined,
  logger: Logger,
): Promise<void> {
  const em = orm.em.fork();
  if ((await countUsers(em)) > 0) return;
  if (!admin) {
    logger.warn(
      'no user exists yet: set controlPlane.auth.bootstrapAdmin, or run `npm run -w control-plane users:create-admin -- <user name>`',
      {
        setting: 'controlPlane.auth.bootstrapAdmin',
      },
    );
    return;
  }
  try {
    const user = await em.transactional((tx) =>
      createUser(tx, { username: admin.email, email: admin.email, password: admin.password, roles: ['admin'] }),
    );
    logger.info('first admin created from settings', { userId: user.id, username: user.username });
  } catch (error) {
    // Another instance starting at the same moment created it.
    if (error instanceof UniqueConstraintViolationException) return;
    throw error;
  }
}

export type AdminOutcome = { action: 'created' | 'reset'; user: UserRow };

/**
 * Creates an admin with this login (a user name, or an email which is then also the email). With
 * `reset`, an existing user gets the password and the admin role, is enabled again, and every
 * session they had ends.
 */
export async function createOrResetAdmin(
  orm: MikroORM,
  options: { login: string; password: string; reset: boolean },
): Promise<AdminOutcome> {
  const { login, password, reset } = options;
  if (!/^[A-Za-z0-9_.@+-]{1,200}$/.test(login))
    throw new Error('the user name may only contain letters, digits and _ . @ + - (at most 200 characters)');
  return orm.em.fork().transactional(async (em) => {
    const existing = await findUser(em, { login });
    if (!existing) {
      const email = /^[^@\s]+@[^@\s]+$/.test(login) ? login : null;
      return { action: 'created', user: await createUser(em, { username: login, email, password, roles: ['admin'] }) };
    }
    if (!reset)
      throw new Error(
        `a user "${existing.username}" already exists; add --reset to give it this password and the admin role`,
      );
    const problem = passwordProblem(password, existing.username);
    if (problem) throw new Error(problem);
    const { ids } = await roleIds(em, ['admin']);
    await em.execute(
      `update users set password_hash = ?, disabled = false, version = version + 1, updated_at = now() where id = ?`,
      [await hashPassword(password), existing.id],
    );
    await setUserRoles(em, existing.id, [...new Set([...(await roleIds(em, existing.roles)).ids, ...ids])]);
    await em.execute(`update sessions set revoked_at = now() where user_id = ? and revoked_at is null`, [existing.id]);
    return { action: 'reset', user: (await findUser(em, { id: existing.id }))! };
  });
}
