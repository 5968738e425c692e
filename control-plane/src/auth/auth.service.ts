import type { RequestHandler, Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Logger, MuxlySettings } from '@muxly/common';
import type { Authorizer } from '../app.ts';
import { readOpenApi } from '../http/docs.ts';
import { apiKeyRoutes } from './api-keys.routes.ts';
import { authRoutes } from './auth.routes.ts';
import { authenticationMiddleware, authorizer } from './authorization.ts';
import type { AuthContext } from './context.ts';
import { KeycloakVerifier } from './keycloak.ts';
import { LoginLockout } from './lockout.ts';
import { BUILTIN_ROLES, builtinPermissions, permissionCatalogue, type BuiltinRole } from './permissions.ts';
import { PrincipalResolver } from './principal.ts';
import { roleRoutes } from './roles.routes.ts';
import { Sessions } from './sessions.ts';
import { countUsers, syncCatalogue } from './store.ts';
import { LocalTokens } from './tokens.ts';
import { createUser, userRoutes } from './users.routes.ts';

export interface Auth {
  /** Runs before request validation: authenticates and checks the operation's permission. */
  authenticate: RequestHandler;
  /** The app's post-validation permission hook. */
  authorize: Authorizer;
  routes: Router[];
}

/**
 * Sets up authentication and RBAC: the permission catalogue and built-in roles are synced into
 * the database, the first admin is created when configured and no user exists yet.
 */
export async function createAuth(options: { settings: MuxlySettings; orm: MikroORM; logger: Logger }): Promise<Auth> {
  const { orm, logger } = options;
  const settings = options.settings.controlPlane.auth;
  const { document } = readOpenApi();
  const catalogue = permissionCatalogue(document);
  await orm.em.fork().transactional((em) =>
    syncCatalogue(
      em,
      catalogue,
      Object.fromEntries(Object.entries(BUILTIN_ROLES).map(([name, role]) => [name, { description: role.description, permissions: builtinPermissions(name as BuiltinRole, catalogue) }])),
    ),
  );
  await bootstrapAdmin(orm, settings.bootstrapAdmin, logger);

  const tokens = new LocalTokens(settings, logger);
  const sessions = new Sessions(settings.refreshTokenTtlSeconds, logger);
  const keycloak = settings.keycloak ? new KeycloakVerifier(settings.keycloak) : null;
  if (keycloak) logger.info('Keycloak tokens accepted', { issuer: keycloak.issuer });
  const resolver = new PrincipalResolver({ orm, tokens, sessions, keycloak, serviceToken: settings.serviceToken, logger });
  const context: AuthContext = {
    orm,
    logger,
    tokens,
    sessions,
    lockout: new LoginLockout(settings.lockout),
    catalogue,
    apiKeyRefreshIntervalSeconds: settings.apiKeySync.refreshIntervalSeconds,
  };
  return {
    authenticate: authenticationMiddleware(document, resolver, logger),
    authorize: authorizer,
    routes: [authRoutes(context), userRoutes(context), roleRoutes(context), apiKeyRoutes(context)],
  };
}

async function bootstrapAdmin(orm: MikroORM, admin: { email: string; password: string } | undefined, logger: Logger): Promise<void> {
  const em = orm.em.fork();
  if ((await countUsers(em)) > 0) return;
  if (!admin) {
    logger.warn('no user exists yet: set controlPlane.auth.bootstrapAdmin, or run `npm run -w control-plane users:create-admin -- <email>`', { setting: 'controlPlane.auth.bootstrapAdmin' });
    return;
  }
  try {
    const user = await em.transactional((tx) => createUser(tx, { username: admin.email, email: admin.email, password: admin.password, roles: ['admin'] }));
    logger.info('first admin created from settings', { userId: user.id, username: user.username });
  } catch (error) {
    // Another instance starting at the same moment created it.
    if (error instanceof UniqueConstraintViolationException) return;
    throw error;
  }
}
