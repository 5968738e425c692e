import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { startFakeServer, type FakeAnswer, type FakeServer, type RecordedRequest } from './fake-server.ts';

// An OAuth 2.0 token endpoint as Google and HubSpot document theirs, for the connectors'
// authentication tests. It checks what a real one checks:
// - grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer (Google service accounts, RFC 7523):
//   the assertion's RS256 signature against the service account's public key, iss = the account's
//   email, aud = this endpoint's URL, a scope, iat/exp present and at most an hour apart;
// - grant_type=refresh_token (RFC 6749 section 6): client_id, client_secret and a refresh token
//   it issued and has not revoked; optionally answers a new refresh token and revokes the old one.
// Answers { access_token, expires_in, token_type } (Google adds scope; HubSpot refresh_token).
// Errors: Google's { error, error_description } (400 invalid_grant, 401 invalid_client);
// HubSpot's { status, message, correlationId } (400 BAD_REFRESH_TOKEN, BAD_CLIENT_ID).

interface ServiceAccount {
  clientEmail: string;
  publicKey: KeyObject;
}

interface OAuthClient {
  clientId: string;
  clientSecret: string;
}

export interface FakeTokenEndpoint {
  /** The token URL (for a service-account key's token_uri, or a tokenUrl credential). */
  tokenUrl: string;
  /** Every access token issued and not revoked. */
  issued: Set<string>;
  /** Refresh tokens that still work. */
  refreshTokens: Set<string>;
  /** The grants answered with a token, in order: grant type and, for JWTs, the verified claims. */
  grants: { grantType: string; claims?: Record<string, unknown>; refreshToken?: string }[];
  /** Whether a bearer token is one this endpoint issued (what the API fakes accept). */
  accepts(token: string): boolean;
  /** Revokes an access token: the API fakes refuse it from now on (401). */
  revoke(token: string): void;
  /** Answers a request to the token path (to mount this endpoint inside another fake server). */
  handle(request: RecordedRequest): Promise<FakeAnswer>;
}

export interface TokenEndpointOptions {
  style: 'google' | 'hubspot';
  serviceAccounts?: ServiceAccount[];
  clients?: OAuthClient[];
  /** Refresh tokens valid at start. */
  refreshTokens?: string[];
  /** Answer a new refresh token with every refresh and revoke the one used. */
  rotateRefreshTokens?: boolean;
  expiresIn?: number;
}

export function createTokenEndpoint(tokenUrl: string, options: TokenEndpointOptions): FakeTokenEndpoint {
  const issued = new Set<string>();
  const refreshTokens = new Set(options.refreshTokens ?? []);
  const grants: FakeTokenEndpoint['grants'] = [];
  const expiresIn = options.expiresIn ?? (options.style === 'google' ? 3599 : 1800);
  const refuse = (status: number, code: string, description: string): FakeAnswer =>
    options.style === 'google'
      ? { status, body: { error: code, error_description: description } }
      : {
          status,
          body: {
            status: code === 'invalid_grant' ? 'BAD_REFRESH_TOKEN' : 'BAD_CLIENT_ID',
            message: description,
            correlationId: randomUUID(),
          },
        };
  const issue = (extra: Record<string, unknown> = {}): FakeAnswer => {
    const accessToken = options.style === 'google' ? `ya29.${randomBytes(24).toString('base64url')}` : randomUUID();
    issued.add(accessToken);
    return { body: { access_token: accessToken, expires_in: expiresIn, token_type: 'Bearer', ...extra } };
  };

  async function jwtBearer(form: URLSearchParams): Promise<FakeAnswer> {
    const assertion = form.get('assertion') ?? '';
    const [encodedHeader] = assertion.split('.');
    let issuer: unknown;
    try {
      issuer = (
        JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown }
      ).iss;
    } catch {
      return refuse(400, 'invalid_grant', 'Invalid JWT: not a JWT.');
    }
    const account = options.serviceAccounts?.find((candidate) => candidate.clientEmail === issuer);
    if (!account || !encodedHeader) return refuse(401, 'invalid_client', 'The OAuth client was not found.');
    try {
      const { payload, protectedHeader } = await jwtVerify(assertion, account.publicKey, {
        algorithms: ['RS256'],
        issuer: account.clientEmail,
        audience: tokenUrl,
        requiredClaims: ['iat', 'exp', 'scope'],
      });
      if (payload.exp! - payload.iat! > 3600)
        return refuse(400, 'invalid_grant', 'Invalid JWT: Expiration must be at most one hour after issue.');
      if (typeof payload.scope !== 'string' || payload.scope.trim() === '')
        return refuse(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
      grants.push({ grantType: 'jwt-bearer', claims: { ...payload, alg: protectedHeader.alg } });
      return issue({ scope: payload.scope });
    } catch (error) {
      const description =
        error instanceof joseErrors.JWSSignatureVerificationFailed
          ? 'Invalid JWT Signature.'
          : `Invalid JWT: ${error instanceof Error ? error.message : String(error)}`;
      return refuse(400, 'invalid_grant', description);
    }
  }

  function refresh(form: URLSearchParams): FakeAnswer {
    const client = options.clients?.find((candidate) => candidate.clientId === form.get('client_id'));
    if (!client || client.clientSecret !== form.get('client_secret'))
      return refuse(401, 'invalid_client', 'The OAuth client was not found.');
    const refreshToken = form.get('refresh_token') ?? '';
    if (!refreshTokens.has(refreshToken)) return refuse(400, 'invalid_grant', 'Token has been expired or revoked.');
    grants.push({ grantType: 'refresh_token', refreshToken });
    if (!options.rotateRefreshTokens) return issue(options.style === 'hubspot' ? { refresh_token: refreshToken } : {});
    const next = `rt-${randomUUID()}`;
    refreshTokens.delete(refreshToken);
    refreshTokens.add(next);
    return issue({ refresh_token: next });
  }

  return {
    tokenUrl,
    issued,
    refreshTokens,
    grants,
    accepts: (token) => issued.has(token),
    revoke: (token) => void issued.delete(token),
    async handle(request) {
      if (request.method !== 'POST') return { status: 405, body: { error: 'invalid_request' } };
      if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded'))
        return refuse(400, 'invalid_request', 'The request must be form-encoded.');
      const form = new URLSearchParams(request.body);
      const grantType = form.get('grant_type');
      if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && options.serviceAccounts)
        return jwtBearer(form);
      if (grantType === 'refresh_token' && options.clients) return refresh(form);
      return refuse(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    },
  };
}

/** A token endpoint of its own, at <url>/token (Google's shape: a host apart from the API). */
export async function startFakeTokenEndpoint(
  options: TokenEndpointOptions,
): Promise<FakeTokenEndpoint & Pick<FakeServer, 'requests' | 'close'>> {
  // The endpoint needs its own URL (the assertions' audience), known once the server listens.
  const mounted: { endpoint?: FakeTokenEndpoint } = {};
  const server = await startFakeServer((request) =>
    request.path === '/token' && mounted.endpoint
      ? mounted.endpoint.handle(request)
      : { status: 404, body: { error: 'not_found' } },
  );
  mounted.endpoint = createTokenEndpoint(`${server.url}/token`, options);
  return { ...mounted.endpoint, requests: server.requests, close: server.close };
}
