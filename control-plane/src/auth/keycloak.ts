import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

// Keycloak access tokens, verified against the realm's JWKS. jose's remote key set caches the
// keys and fetches them again when a token names a key id it does not know (rate-limited by its
// cooldown), so a realm key rotation is picked up without a restart.

export interface KeycloakSettings {
  issuer: string;
  audience: string;
  jwksUrl?: string | undefined;
  algorithms: string[];
  roleSource: 'realm' | 'client';
  clientId?: string | undefined;
  roleMapping: Record<string, string>;
  consoleClientId?: string | undefined;
}

/** What the web console needs to sign a user in at the realm: all of it public, no secret. */
export interface ConsoleSsoProvider {
  type: 'keycloak';
  issuer: string;
  clientId: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  endSessionEndpoint: string;
}

/**
 * The realm's OpenID Connect endpoints for the console's public client, or null when no console
 * client is configured. The browser reaches Keycloak under the issuer's address (it is the
 * realm's front-end URL, the one its tokens name), so the endpoints derive from it; Keycloak's
 * paths under a realm are fixed.
 */
export function consoleSsoProvider(settings: KeycloakSettings | undefined): ConsoleSsoProvider | null {
  if (!settings?.consoleClientId) return null;
  const issuer = settings.issuer.replace(/\/+$/, '');
  return {
    type: 'keycloak',
    issuer,
    clientId: settings.consoleClientId,
    authorizationEndpoint: `${issuer}/protocol/openid-connect/auth`,
    tokenEndpoint: `${issuer}/protocol/openid-connect/token`,
    endSessionEndpoint: `${issuer}/protocol/openid-connect/logout`,
  };
}

export interface KeycloakIdentity {
  subject: string;
  username: string;
  /** Muxly role names the token's roles map to. */
  roles: string[];
}

export class KeycloakVerifier {
  readonly issuer: string;
  readonly #settings: KeycloakSettings;
  readonly #keys: ReturnType<typeof createRemoteJWKSet>;

  /** `cooldownMs`: least time between two JWKS fetches (a token with an unknown key id triggers one). */
  constructor(settings: KeycloakSettings, jwks: { cooldownMs?: number } = {}) {
    if (settings.roleSource === 'client' && !settings.clientId) {
      throw new Error('controlPlane.auth.keycloak.clientId is required when roleSource is "client"');
    }
    this.#settings = settings;
    this.issuer = settings.issuer.replace(/\/+$/, '');
    const jwksUrl = settings.jwksUrl ?? `${this.issuer}/protocol/openid-connect/certs`;
    this.#keys = createRemoteJWKSet(new URL(jwksUrl), {
      timeoutDuration: 5_000,
      cooldownDuration: jwks.cooldownMs ?? 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }

  async verify(token: string): Promise<KeycloakIdentity> {
    const { payload } = await jwtVerify(token, this.#keys, {
      algorithms: this.#settings.algorithms,
      issuer: this.issuer,
      audience: this.#settings.audience,
      requiredClaims: ['exp', 'sub'],
      clockTolerance: 5,
    });
    // Keycloak marks access tokens `typ: Bearer`; its ID tokens (`ID`) are signed by the same
    // keys and, with the client id as audience, would otherwise pass as access tokens.
    if (payload.typ !== 'Bearer')
      throw new errors.JWTClaimValidationFailed('not an access token', payload, 'typ', 'check_failed');
    return {
      subject: String(payload.sub),
      username: typeof payload.preferred_username === 'string' ? payload.preferred_username : String(payload.sub),
      roles: this.#mappedRoles(payload),
    };
  }

  #mappedRoles(payload: JWTPayload): string[] {
    const source =
      this.#settings.roleSource === 'realm'
        ? (payload.realm_access as { roles?: unknown } | undefined)?.roles
        : (payload.resource_access as Record<string, { roles?: unknown }> | undefined)?.[this.#settings.clientId!]
            ?.roles;
    const tokenRoles = Array.isArray(source) ? source.filter((role): role is string => typeof role === 'string') : [];
    const mapped = tokenRoles
      .map((role) => this.#settings.roleMapping[role])
      .filter((role): role is string => typeof role === 'string');
    return [...new Set(mapped)];
  }
}
