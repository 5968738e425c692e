import type { Mechanism } from 'kafkajs';
import { ConfigurationError, errorMessage, RefusedError, RetryableError } from '../errors.ts';
import { createHttpClient, type HttpClient } from '../http/client.ts';

// SASL/OAUTHBEARER for kafkajs: an OAuth 2.0 client-credentials token (RFC 6749 section 4.4),
// fetched from the brokers' identity provider, cached, and renewed before it expires. kafkajs asks
// for a token on every connection and every re-authentication (when the broker sets a session
// lifetime), so the cache is what keeps the identity provider from seeing one request per socket.

export interface ClientCredentials {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes; unset: the provider's default scopes for the client. */
  scope?: string | undefined;
}

export interface TokenProviderOptions {
  /** Longest wait for the token endpoint. */
  timeoutMs?: number;
  /** Clock, in milliseconds (tests move it). */
  now?: () => number;
  http?: HttpClient;
}

/**
 * The token endpoint refused the client: a wrong setting, not a passing fault. `retriable: false`
 * is what kafkajs reads to stop retrying the connection at once instead of backing off for
 * minutes with credentials that cannot start working.
 */
export class TokenRefusedError extends RefusedError {
  readonly retriable = false;
}

/** Renew this long before expiry, or at 4/5 of a short lifetime: a token is never sent stale. */
const RENEW_BEFORE_MS = 60_000;
/** A token whose lifetime is unknown (no `expires_in`, not a JWT with `exp`) is not reused. */
const UNKNOWN_LIFETIME_MS = 0;

interface CachedToken {
  value: string;
  renewAt: number;
}

export class ClientCredentialsTokenProvider {
  private readonly credentials: ClientCredentials;
  private readonly http: HttpClient;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private cached: CachedToken | undefined;
  private pending: Promise<string> | undefined;

  constructor(credentials: ClientCredentials, options: TokenProviderOptions = {}) {
    this.credentials = credentials;
    let url: URL;
    try {
      url = new URL(credentials.tokenUrl);
    } catch {
      throw new ConfigurationError(`kafka.sasl.tokenUrl: "${credentials.tokenUrl}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new ConfigurationError(`kafka.sasl.tokenUrl: ${url.protocol} is not http or https`);
    // The operator configured this endpoint, so an internal address (a cluster-local identity
    // provider) is allowed for it, and for it only.
    this.http = options.http ?? createHttpClient({ allow: [url.hostname], maxResponseBytes: 1024 * 1024 });
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** A valid access token: the cached one until its renewal time, else a new one (one request at a time). */
  async token(): Promise<string> {
    if (this.cached && this.now() < this.cached.renewAt) return this.cached.value;
    // NOTE: concurrent connections (kafkajs opens one per broker at once) share one request.
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the cached token (the broker refused it), so the next connection asks for a new one. */
  invalidate(): void {
    this.cached = undefined;
  }

  close(): void {
    this.http.close();
  }

  private async fetchToken(): Promise<string> {
    const { tokenUrl, clientId, clientSecret, scope } = this.credentials;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) form.set('scope', scope);
    const requestedAt = this.now();
    let response;
    try {
      response = await this.http.request({
        method: 'POST',
        url: tokenUrl,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          // client_secret_basic (RFC 6749 section 2.3.1): both parts form-encoded, then base64.
          authorization: `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`,
        },
        body: form.toString(),
        timeoutMs: this.timeoutMs,
        acceptStatus: () => true,
      });
    } catch (error) {
      // Network faults and timeouts come as RetryableError; kafkajs retries those with backoff.
      throw new RetryableError(`kafka.sasl.tokenUrl: no token from ${tokenUrl} (${errorMessage(error)})`, {
        cause: error,
      });
    }
    const body = parseJson(response.text());
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      throw new RetryableError(`kafka.sasl.tokenUrl: ${tokenUrl} answered ${response.status}${oauthError(body)}`);
    }
    if (response.status !== 200) throw refusal(this.credentials, response.status, body);
    const accessToken = body?.access_token;
    if (!body || typeof accessToken !== 'string' || accessToken === '') {
      throw new TokenRefusedError(
        'check',
        `kafka.sasl.tokenUrl: ${tokenUrl} answered 200 without an access_token (is it the OAuth token endpoint?)`,
      );
    }
    const lifetimeMs = lifetimeOf(body, accessToken, requestedAt);
    this.cached = {
      value: accessToken,
      // Counted from when the request left: the token's clock started no earlier.
      renewAt: requestedAt + Math.max(0, lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 5)),
    };
    return accessToken;
  }
}

/**
 * SASL/OAUTHBEARER (RFC 7628) for kafkajs with the tokens of `provider`. kafkajs's built-in
 * mechanism ignores the broker's answer: a broker that refuses the token sends an error document
 * instead of an empty answer, kafkajs takes the connection for authenticated, and the broker then
 * closes it at the first request, which the client sees as brokers that vanish and retries for
 * minutes. This one reads the answer and fails the connection with the broker's reason.
 */
export function oauthBearerMechanism(provider: ClientCredentialsTokenProvider, tokenUrl: string): Mechanism {
  return {
    mechanism: 'oauthbearer',
    authenticationProvider: ({ host, port, saslAuthenticate }) => ({
      async authenticate() {
        const token = await provider.token();
        // The client's first message (RFC 7628 section 3.1): no authorization identity, no extensions.
        const message = Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001\u0001`, 'utf8');
        const refusal = await saslAuthenticate<string>({
          request: { encode: () => lengthPrefixed(message) },
          response: { decode: (raw) => withoutLengthPrefix(raw), parse: (data) => data.toString('utf8') },
        });
        if (refusal) {
          provider.invalidate();
          throw new TokenRefusedError(
            'authenticate',
            `kafka.sasl: the broker ${host}:${port} refused the token from ${tokenUrl} (${refusal.slice(0, 300)}); check that the brokers trust this identity provider (issuer, audience, keys)`,
          );
        }
      },
    }),
  };
}

/** kafkajs carries SASL bytes with a 32-bit length in front (its Encoder.writeBytes). */
function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function withoutLengthPrefix(raw: Buffer): Buffer {
  if (raw.length < 4) return Buffer.alloc(0);
  const length = raw.readInt32BE(0);
  return length <= 0 ? Buffer.alloc(0) : raw.subarray(4, 4 + length);
}

type TokenAnswer = Record<string, unknown> | undefined;

function parseJson(text: string): TokenAnswer {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** `: invalid_client (Invalid client credentials)` from an RFC 6749 section 5.2 error answer. */
function oauthError(body: TokenAnswer): string {
  const code = typeof body?.error === 'string' ? body.error : undefined;
  if (!code) return '';
  const description = typeof body?.error_description === 'string' ? ` (${body.error_description.slice(0, 200)})` : '';
  return `: ${code}${description}`;
}

function refusal(credentials: ClientCredentials, status: number, body: TokenAnswer): TokenRefusedError {
  const code = typeof body?.error === 'string' ? body.error : '';
  const answer = `${credentials.tokenUrl} answered ${status}${oauthError(body)}`;
  if (code === 'invalid_client' || code === 'unauthorized_client' || status === 401) {
    return new TokenRefusedError(
      'authenticate',
      `kafka.sasl.clientId / kafka.sasl.clientSecret: the token endpoint refused client "${credentials.clientId}" (${answer})`,
    );
  }
  if (code === 'invalid_scope') {
    return new TokenRefusedError(
      'permission',
      `kafka.sasl.scope: the token endpoint refused "${credentials.scope ?? ''}" (${answer})`,
    );
  }
  return new TokenRefusedError('check', `kafka.sasl.tokenUrl: no token (${answer})`);
}

/** From `expires_in` (seconds), else the JWT's `exp`; 0 when neither says. */
function lifetimeOf(body: Record<string, unknown>, accessToken: string, requestedAt: number): number {
  const expiresIn = Number(body.expires_in);
  if (Number.isFinite(expiresIn) && expiresIn > 0) return expiresIn * 1000;
  const exp = jwtExpiry(accessToken);
  return exp === undefined ? UNKNOWN_LIFETIME_MS : Math.max(0, exp * 1000 - requestedAt);
}

function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const exp = (claims as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** application/x-www-form-urlencoded for one credential part, as RFC 6749 appendix B asks. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice('v='.length);
}
