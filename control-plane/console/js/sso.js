// Keycloak sign-in from the browser: the authorization-code flow with PKCE (RFC 7636, S256) for
// the realm's PUBLIC client. The console has no secret to keep, so the proof that the code was
// asked for by this tab is the verifier, kept in this tab's sessionStorage between leaving for
// Keycloak's sign-in page and coming back with the code. `state` ties the answer to the sign-in
// this tab started (a forged answer is refused) and `nonce` ties the ID token to it.

const PENDING_KEY = 'muxly.sso.pending';

/**
 * What GET /api/v1/auth/providers says about the realm (public, no secret).
 * @typedef {{ type: 'keycloak', issuer: string, clientId: string, authorizationEndpoint: string, tokenEndpoint: string, endSessionEndpoint: string }} SsoProvider
 */
/** @typedef {{ access_token: string, refresh_token: string, id_token?: string, expires_in: number }} SsoTokens */

/** A sign-in or refresh at the identity provider that did not work; the message says what to do. */
export class SsoError extends Error {
  /** @param {string} message @param {number} [status] the token endpoint's HTTP status, if it answered */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** The realm the console signs users in at, or null when the control plane has none configured for it. */
export async function ssoProvider() {
  const answer = await fetch('/api/v1/auth/providers');
  if (!answer.ok) return null;
  const body = /** @type {{ sso: SsoProvider | null }} */ (await answer.json());
  return body.sso;
}

// The console's own address: where Keycloak sends the browser back (the client's redirect URI).
const redirectUri = () => `${location.origin}/console/`;

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const randomText = (bytes = 32) => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

/** Leaves for the realm's sign-in page. @param {SsoProvider} provider */
export async function startSsoSignIn(provider) {
  const verifier = randomText(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const pending = { provider, verifier, state: randomText(16), nonce: randomText(16) };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(provider.authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: provider.clientId,
    redirect_uri: redirectUri(),
    scope: 'openid',
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/** The realm's answer in this page's address (back from its sign-in page), or null. */
export function ssoAnswerInAddress() {
  const params = new URLSearchParams(location.search);
  return params.has('state') && (params.has('code') || params.has('error')) ? params : null;
}

/**
 * Checks the realm's answer against the sign-in this tab started and trades the code for tokens.
 * The address is cleaned first, so the code is neither kept in the history nor used twice.
 * @param {URLSearchParams} params
 * @returns {Promise<{ provider: SsoProvider, tokens: SsoTokens }>}
 */
export async function completeSsoSignIn(params) {
  const text = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', `${location.pathname}#/signin`);
  /** @type {{ provider: SsoProvider, verifier: string, state: string, nonce: string } | null} */
  const pending = text ? JSON.parse(text) : null;
  if (!pending || params.get('state') !== pending.state)
    throw new SsoError(
      'The sign-in answer was refused: it does not belong to a sign-in started in this tab (its state does not match). Sign in again.',
    );
  const { provider } = pending;
  if (params.has('error'))
    throw new SsoError(
      `The identity provider did not sign you in: ${params.get('error_description') ?? params.get('error')}.`,
    );
  // Keycloak names itself in the answer (RFC 9207): a code from another server is not sent on.
  const issuer = params.get('iss');
  if (issuer !== null && issuer !== provider.issuer)
    throw new SsoError(`The sign-in answer came from ${issuer}, not from ${provider.issuer}. Sign in again.`);
  const tokens = await tokenRequest(provider, {
    grant_type: 'authorization_code',
    code: params.get('code') ?? '',
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  // NOTE: the ID token comes straight from the token endpoint, so its claims are checked, not
  // its signature (OpenID Connect Core 3.1.3.7); the API verifies every access token's signature.
  const claims = tokens.id_token ? idTokenClaims(tokens.id_token) : null;
  const audiences = claims ? [claims.aud].flat() : [];
  if (
    !claims ||
    claims.nonce !== pending.nonce ||
    claims.iss !== provider.issuer ||
    !audiences.includes(provider.clientId)
  )
    throw new SsoError(
      'The identity provider answered with an ID token for another sign-in (nonce, issuer or audience differ). Sign in again.',
    );
  return { provider, tokens };
}

/** @param {string} token @returns {{ iss?: string, aud?: string | string[], nonce?: string } | null} */
function idTokenClaims(token) {
  try {
    const payload = token.split('.')[1] ?? '';
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return null;
  }
}

/**
 * A request to the realm's token endpoint (the code exchange, a refresh), as the public client.
 * @param {SsoProvider} provider @param {Record<string, string>} params
 * @returns {Promise<SsoTokens>}
 */
export async function tokenRequest(provider, params) {
  let answer;
  try {
    answer = await fetch(provider.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: provider.clientId, ...params }),
    });
  } catch {
    throw new SsoError(
      `The identity provider at ${new URL(provider.tokenEndpoint).origin} cannot be reached, or its client does not list this console's address (${location.origin}) among its web origins.`,
    );
  }
  const body = await answer.json().catch(() => null);
  if (!answer.ok || !body?.access_token)
    throw new SsoError(
      `The identity provider refused: ${body?.error_description ?? body?.error ?? `HTTP ${answer.status}`}.`,
      answer.status,
    );
  return body;
}

/**
 * The realm's sign-out page, which ends the Keycloak session and comes back to the console.
 * @param {SsoProvider} provider @param {string | undefined} idToken
 */
export function endSessionUrl(provider, idToken) {
  const url = new URL(provider.endSessionEndpoint);
  url.search = new URLSearchParams({
    client_id: provider.clientId,
    post_logout_redirect_uri: redirectUri(),
    ...(idToken ? { id_token_hint: idToken } : {}),
  }).toString();
  return url.toString();
}
