import type { RequestHandler, Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger, MuxlySettings } from '@muxly/common';
import type { Authorizer } from '../app.ts';
import { readOpenApi } from '../http/docs.ts';
import { apiKeyRoutes } from './api-keys.routes.ts';
import { authRoutes } from './auth.routes.ts';
import { authenticationMiddleware, authorizer } from './authorization.ts';
import type { AuthContext } from './context.ts';
import { consoleSsoProvider, KeycloakVerifier, type ConsoleSsoProvider } from './keycloak.ts';
import { LoginLockout } from './lockout.ts';
import { bootstrapAdmin, syncRoles } from './first-admin.ts';
import { PrincipalResolver } from './principal.ts';
import { roleRoutes } from './roles.routes.ts';
import { Sessions } from './sessions.ts';
import { LocalTokens } from './tokens.ts';
import { userRoutes } from './users.routes.ts';

export interface Auth {
  /** Runs before request validation: authenticates and checks the operation's permission. */
  authenticate: RequestHandler;
  /** The app's post-validation permission hook. */
  authorize: Authorizer;
  routes: Router[];
  /** The realm the console signs users in at (null: local users only); its origin goes into the console's CSP. */
  sso: ConsoleSsoProvider | null;
}

/**
 * Sets up authentication and RBAC: the permission catalogue and built-in roles are synced into
 * the database, the first admin is created when configured and no user exists yet.
 */
export async function createAuth(options: { settings: MuxlySettings; orm: MikroORM; logger: Logger }): Promise<Auth> {
  const { orm, logger } = options;
  const settings = options.settings.controlPlane.auth;
  const catalogue = await syncRoles(orm);
  await bootstrapAdmin(orm, settings.bootstrapAdmin, logger);

  const tokens = new LocalTokens(settings, logger);
  const sessions = new Sessions(settings.refreshTokenTtlSeconds, logger);
  const keycloak = settings.keycloak ? new KeycloakVerifier(settings.keycloak) : null;
  if (keycloak) logger.info('Keycloak tokens accepted', { issuer: keycloak.issuer });
  const sso = consoleSsoProvider(settings.keycloak);
  if (keycloak && !sso)
    logger.info('the console offers local sign-in only: set controlPlane.auth.keycloak.consoleClientId for SSO');
  const resolver = new PrincipalResolver({
    orm,
    tokens,
    sessions,
    keycloak,
    serviceToken: settings.serviceToken,
    logger,
  });
  const context: AuthContext = {
    orm,
    logger,
    tokens,
    sessions,
    lockout: new LoginLockout(settings.lockout),
    catalogue,
    apiKeyRefreshIntervalSeconds: settings.apiKeySync.refreshIntervalSeconds,
    sso,
  };
  return {
    authenticate: authenticationMiddleware(readOpenApi().document, resolver, logger),
    authorize: authorizer,
    routes: [authRoutes(context), userRoutes(context), roleRoutes(context), apiKeyRoutes(context)],
    sso,
  };
}
