import { createHash } from 'node:crypto';
import { ConfigurationError, errorForStatus, errorMessage, RefusedError } from '@muxly/common';
import type { ConnectorContext } from '../connector.ts';

// Access tokens for the connectors whose providers use OAuth 2.0 (docs/connectors.md
// "Authentication"): a fixed access token, a Google service account (a JWT signed with the key's
// private key and exchanged at the key's token_uri, RFC 7523), or a user's refresh token
// (RFC 6749 section 6). Token requests go through the guarded HTTP client, so the outbound
// address policy applies to token URLs as it does to API endpoints.

/** How long before its expiry a cached token is renewed, so it cannot lapse between check and use. */
const RENEW_MARGIN_MS = 5 * 60_000;
/** Lifetime assumed when a token endpoint omits expires_in. */
const DEFAULT_LIFETIME_SECONDS = 3600;
/** Bounds the process-wide caches (one entry per connector and credential set). */
const CACHE_LIMIT = 1_000;
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export interface TokenSource {
  /** A valid access token: the cached one while it has more than a few minutes left, else a new one. */
  token(): Promise<string>;
  /** Forgets `token` (the API answered 401 with it); the next token() asks the token endpoint. */
  invalidate(token: string): void;
  /** False for a fixed access token: there is nothing to renew it with. */
  readonly renewable: boolean;
}

export interface ServiceAccountKeyInput {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

export interface RefreshTokenInput {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

interface CachedToken {
  value: string;
  /** Wall-clock milliseconds: token lifetimes are real time, whatever clock the context pins. */
  expiresAt: number;
}

/** A Map that forgets its oldest entry past CACHE_LIMIT. */
class BoundedMap<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > CACHE_LIMIT) this.delete(this.keys().next().value as string);
    return this;
  }
}

// NOTE: process-wide, so a token outlives one sync (syncs of a connector run every few minutes and
// a token lives an hour). Keys are hashes of the connector id and the secret material, never the
// secrets themselves; changed credentials make a new key, so a replaced key is never reused.
const tokens = new BoundedMap<CachedToken>();
const pending = new Map<string, Promise<CachedToken>>();
/**
 * Refresh tokens a provider rotated, by hash of (connector, refresh token it replaced). A sync that
 * starts before the control plane has stored the new one still uses the newest token it knows.
 */
const rotated = new BoundedMap<string>();

const fingerprint = (...parts: string[]): string => createHash('sha256').update(parts.join('\u0000')).digest('hex');

/** A token the caller already holds (short-lived; tests). Nothing to renew. */
export function fixedToken(accessToken: string): TokenSource {
  return { renewable: false, token: () => Promise.resolve(accessToken), invalidate: () => {} };
}

function cachedSource(key: string, fetch: () => Promise<CachedToken>): TokenSource {
  return {
    renewable: true,
    async token() {
      const cached = tokens.get(key);
      if (cached && cached.expiresAt - RENEW_MARGIN_MS > Date.now()) return cached.value;
      // NOTE: concurrent callers share one token request; with rotating refresh tokens two
      // parallel refreshes would race, and the loser's refresh token would be spent.
      let inFlight = pending.get(key);
      if (!inFlight) {
        inFlight = fetch().finally(() => pending.delete(key));
        pending.set(key, inFlight);
      }
      const fresh = await inFlight;
      tokens.set(key, fresh);
      return fresh.value;
    },
    invalidate(token) {
      if (tokens.get(key)?.value === token) tokens.delete(key);
    },
  };
}

interface TokenAnswer {
  access_token?: unknown;
  expires_in?: unknown;
  refresh_token?: unknown;
  error?: unknown;
  error_description?: unknown;
  /** HubSpot's error shape: { status: 'BAD_REFRESH_TOKEN', message }. */
  status?: unknown;
  message?: unknown;
}

/** The error codes that mean the user's grant is gone (RFC 6749 invalid_grant; HubSpot's own name). */
const GRANT_GONE = new Set(['invalid_grant', 'BAD_REFRESH_TOKEN']);
/** The codes that mean the OAuth client (id or secret) is wrong. */
const CLIENT_REFUSED = new Set(['invalid_client', 'unauthorized_client', 'BAD_CLIENT_ID']);

/**
 * POSTs a form to a token endpoint and maps the answer: 2xx with access_token is the token; an
 * OAuth error (RFC 6749 section 5.2) is a RefusedError of `authenticate` with what to do, since
 * no retry can fix it; 429, 5xx and network failures stay retryable.
 */
async function requestToken(
  provider: string,
  url: string,
  form: Record<string, string>,
  hint: (error: string) => string,
  context: Pick<ConnectorContext, 'http' | 'signal'>,
): Promise<TokenAnswer & { access_token: string }> {
  const response = await context.http.request({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
    signal: context.signal,
    acceptStatus: (status) => status < 500 && status !== 429 && status !== 408,
  });
  let body: TokenAnswer = {};
  try {
    body = response.json<TokenAnswer>();
  } catch {
    // Not JSON: reported by status below.
  }
  if (response.status >= 200 && response.status < 300) {
    if (typeof body.access_token !== 'string' || body.access_token === '')
      throw new ConfigurationError(`the ${provider} token endpoint answered without an access_token`);
    return body as TokenAnswer & { access_token: string };
  }
  const code =
    typeof body.error === 'string'
      ? body.error
      : typeof body.status === 'string'
        ? body.status
        : `HTTP ${response.status}`;
  const text =
    typeof body.error_description === 'string'
      ? body.error_description
      : typeof body.message === 'string'
        ? body.message
        : undefined;
  // NOTE: the description is the provider's own words about the grant; it never echoes secrets.
  const description = text === undefined ? '' : `: ${text.slice(0, 200)}`;
  if (response.status >= 400 && response.status < 500)
    throw new RefusedError(
      'authenticate',
      `the ${provider} token endpoint refused the request (${code}${description}): ${hint(code)}`,
    );
  throw errorForStatus(response.status, response.headers, code);
}

const expiry = (answer: TokenAnswer): number =>
  Date.now() +
  (typeof answer.expires_in === 'number' && answer.expires_in > 0 ? answer.expires_in : DEFAULT_LIFETIME_SECONDS) *
    1000;

/**
 * A Google service account (RFC 7523 JWT bearer grant, as Google documents it for server-to-server
 * apps): an RS256 JWT { iss: client_email, scope, aud: token_uri, iat, exp } signed with the key's
 * private key, exchanged at the key's token_uri for an access token of about an hour.
 */
export function serviceAccountToken(
  key: ServiceAccountKeyInput,
  scope: string,
  context: Pick<ConnectorContext, 'http' | 'signal' | 'connectorId'>,
): TokenSource {
  const cacheKey = fingerprint('service-account', context.connectorId, key.client_email, key.private_key, scope);
  return cachedSource(cacheKey, async () => {
    const { importPKCS8, SignJWT } = await import('jose');
    let privateKey: Awaited<ReturnType<typeof importPKCS8>>;
    try {
      privateKey = await importPKCS8(key.private_key, 'RS256');
    } catch (error) {
      throw new RefusedError(
        'authenticate',
        `the service-account key of ${key.client_email} cannot sign: private_key is not a PEM-encoded PKCS#8 RSA key (${errorMessage(error)}); paste the key file's private_key unchanged`,
      );
    }
    const issuedAt = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) })
      .setIssuer(key.client_email)
      .setAudience(key.token_uri)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + 3600)
      .sign(privateKey);
    const answer = await requestToken(
      'Google',
      key.token_uri,
      { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion },
      (code) =>
        GRANT_GONE.has(code)
          ? `the service account ${key.client_email} or its key is deleted or disabled, or the machine's clock is off; create a new key`
          : `check the service-account key of ${key.client_email}`,
      context,
    );
    return { value: answer.access_token, expiresAt: expiry(answer) };
  });
}

/**
 * A user's consent (RFC 6749 section 6, refresh_token grant; Google and HubSpot public apps
 * alike): client id and secret and the refresh token, form-encoded, exchanged for an access token.
 * When the provider answers a new refresh_token the old one may stop working at once, so the new
 * one is handed to `context.saveCredentials` (the control plane stores it) before it is used.
 */
export function refreshedToken(
  provider: string,
  tokenUrl: string,
  credentials: RefreshTokenInput,
  context: Pick<ConnectorContext, 'http' | 'signal' | 'connectorId' | 'log' | 'saveCredentials'>,
  extraForm: Record<string, string> = {},
): TokenSource {
  const rotationKey = fingerprint('rotation', context.connectorId, credentials.refreshToken);
  const cacheKey = fingerprint('refresh', context.connectorId, credentials.clientId, credentials.refreshToken);
  return cachedSource(cacheKey, async () => {
    const refreshToken = rotated.get(rotationKey) ?? credentials.refreshToken;
    const answer = await requestToken(
      provider,
      tokenUrl,
      {
        grant_type: 'refresh_token',
        client_id: credentials.clientId,
        client_secret: credentials.clientSecret,
        refresh_token: refreshToken,
        ...extraForm,
      },
      (code) =>
        GRANT_GONE.has(code)
          ? `the refresh token is expired or revoked (the user withdrew consent, or it was replaced); authorize the app again and store the new refresh token in the connector's credentials`
          : CLIENT_REFUSED.has(code)
            ? 'check clientId and clientSecret'
            : 'check clientId, clientSecret and refreshToken',
      context,
    );
    if (
      typeof answer.refresh_token === 'string' &&
      answer.refresh_token !== '' &&
      answer.refresh_token !== refreshToken
    ) {
      rotated.set(rotationKey, answer.refresh_token);
      if (context.saveCredentials) {
        await context.saveCredentials({ ...credentials, refreshToken: answer.refresh_token });
        context.log.info('the provider rotated the refresh token; the new one was handed to the control plane', {
          provider,
        });
      } else {
        context.log.warn('the provider rotated the refresh token but nothing here can store it', { provider });
      }
    }
    return { value: answer.access_token, expiresAt: expiry(answer) };
  });
}

/**
 * Runs `operation` with a token; when the API refuses it (a RefusedError of `authenticate`) and
 * the token can be renewed, forgets it and tries once more with a new one: a token revoked or
 * expired early is renewed without failing the sync, a bad credential still fails after one try.
 */
export async function withToken<T>(source: TokenSource, operation: (token: string) => Promise<T>): Promise<T> {
  const token = await source.token();
  try {
    return await operation(token);
  } catch (error) {
    if (!source.renewable || !(error instanceof RefusedError) || error.step !== 'authenticate') throw error;
    source.invalidate(token);
    return operation(await source.token());
  }
}
