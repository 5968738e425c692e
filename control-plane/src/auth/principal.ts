import { timingSafeEqual, createHash } from 'node:crypto';
import type { Request } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { decodeJwt } from 'jose';
import type { Logger } from '@muxly/common';
import { ApiProblem, isDatabaseUnavailable } from '../http/problem.ts';
import type { KeycloakVerifier } from './keycloak.ts';
import { ACCOUNT_PERMISSIONS, API_KEYS_SYNC } from './permissions.ts';
import type { Sessions } from './sessions.ts';
import { effectiveScopes, findApiKey, findUser, permissionsOfRoles, recordSsoIdentity } from './store.ts';
import type { LocalTokens } from './tokens.ts';
import { hashApiKey } from './api-key-format.ts';

// Who is calling: a local user (our access token), a Keycloak user (the realm's access token),
// an API key (`mxk_…`), or ingest's service token. Permissions are resolved on every request
// from the database, so a role change or a disabled user takes effect at once.

export interface Principal {
  kind: 'user' | 'sso' | 'api-key' | 'service';
  id: string;
  name: string;
  roles: string[];
  permissions: Set<string>;
  /** The login session of a local user's access token. */
  sessionId?: string;
  /** Whose current rights bound the API keys this principal creates (a key's own owner for a key). */
  keyOwner?: KeyOwner;
}

/** The owner of an API key: a local user or a Keycloak user (as recorded in sso_identities). */
interface KeyOwner {
  userId: string | null;
  ssoOwnerId: string | null;
}

export function may(principal: Principal, permission: string): boolean {
  if (ACCOUNT_PERMISSIONS.includes(permission)) return principal.kind === 'user' || principal.kind === 'sso';
  return principal.permissions.has(permission);
}

/** Nobody grants what they do not hold: a 403 naming every permission beyond the principal's. */
export function ensureHeld(principal: Principal, permissions: Iterable<string>): void {
  const beyond = [...new Set(permissions)].filter((permission) => !may(principal, permission)).sort();
  if (beyond.length > 0)
    throw new ApiProblem(403, 'forbidden', `you cannot grant permissions you do not hold: ${beyond.join(', ')}`);
}

export const unauthorized = (detail: string) => new ApiProblem(401, 'unauthorized', detail);

export interface PrincipalResolverOptions {
  orm: MikroORM;
  tokens: LocalTokens;
  sessions: Sessions;
  keycloak: KeycloakVerifier | null;
  serviceToken: string | undefined;
  logger: Logger;
}

/** Reads `Authorization: Bearer …` (or `X-API-Key`); null when the request carries no credentials. */
function presentedCredential(request: Request): string | null {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authorization);
    if (!match) throw unauthorized('the Authorization header must be "Bearer <token>"');
    return match[1]!;
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.trim() ? apiKey.trim() : null;
}

export class PrincipalResolver {
  readonly #options: PrincipalResolverOptions;
  readonly #serviceTokenDigest: Buffer | null;

  constructor(options: PrincipalResolverOptions) {
    this.#options = options;
    this.#serviceTokenDigest = options.serviceToken ? createHash('sha256').update(options.serviceToken).digest() : null;
  }

  /** The caller, or null without credentials; throws 401 for credentials that are not valid. */
  async resolve(request: Request): Promise<Principal | null> {
    const credential = presentedCredential(request);
    if (credential === null) return null;
    if (credential.startsWith('mxk_')) return this.#apiKey(credential);
    if (this.#isServiceToken(credential))
      return {
        kind: 'service',
        id: 'ingest',
        name: 'ingest service token',
        roles: [],
        permissions: new Set([API_KEYS_SYNC]),
      };
    return this.#jwt(credential);
  }

  #isServiceToken(credential: string): boolean {
    if (!this.#serviceTokenDigest) return false;
    // Compare digests: constant time whatever the lengths.
    return timingSafeEqual(createHash('sha256').update(credential).digest(), this.#serviceTokenDigest);
  }

  async #apiKey(key: string): Promise<Principal> {
    const row = await findApiKey(this.#options.orm.em.fork(), { hash: hashApiKey(key) });
    if (!row) throw unauthorized('the API key is unknown, revoked or expired');
    if (row.owner_permissions === null) throw unauthorized("the API key's owner is disabled or no longer exists");
    return {
      kind: 'api-key',
      id: row.id,
      name: row.name,
      roles: [],
      // The stored scopes bounded by what the owner holds now.
      permissions: new Set(effectiveScopes(row)),
      keyOwner: { userId: row.user_id, ssoOwnerId: row.sso_owner_id },
    };
  }

  async #jwt(token: string): Promise<Principal> {
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw unauthorized('the bearer token is not a valid JWT or API key');
    }
    const { tokens, keycloak } = this.#options;
    try {
      if (issuer === tokens.issuer) return await this.#localUser(token);
      if (keycloak && issuer === keycloak.issuer) return await this.#ssoUser(token, keycloak);
    } catch (error) {
      // NOTE: the user and session lookups need the database: while it is away the token is not
      // refused (401 would send a client to sign in again, which fails too) but the request is
      // answered 503 database-unavailable, like every other operation.
      if (error instanceof ApiProblem || isDatabaseUnavailable(error)) throw error;
      // jose's message says which check failed (expired, audience, signature…): safe to show.
      throw unauthorized(`the access token was refused: ${(error as Error).message}`);
    }
    throw unauthorized('the access token comes from an issuer this control plane does not trust');
  }

  async #localUser(token: string): Promise<Principal> {
    const claims = await this.#options.tokens.verify(token);
    const em = this.#options.orm.em.fork();
    const [user, active] = await Promise.all([
      findUser(em, { id: claims.userId }),
      this.#options.sessions.isActive(em, claims.sessionId, claims.userId),
    ]);
    if (!user || user.disabled) throw unauthorized('the user no longer exists or is disabled');
    if (!active) throw unauthorized('the session has ended (logged out or revoked); sign in again');
    return {
      kind: 'user',
      id: user.id,
      name: user.username,
      roles: user.roles,
      permissions: await permissionsOfRoles(em, user.roles),
      sessionId: claims.sessionId,
      keyOwner: { userId: user.id, ssoOwnerId: null },
    };
  }

  async #ssoUser(token: string, keycloak: KeycloakVerifier): Promise<Principal> {
    const identity = await keycloak.verify(token);
    const id = `keycloak:${identity.subject}`;
    const em = this.#options.orm.em.fork();
    // The roles of the latest token are what this user's API keys are bounded by.
    await recordSsoIdentity(em, { id, username: identity.username, roles: identity.roles });
    const permissions = await permissionsOfRoles(em, identity.roles);
    return {
      kind: 'sso',
      id,
      name: identity.username,
      roles: identity.roles,
      permissions,
      keyOwner: { userId: null, ssoOwnerId: id },
    };
  }
}
