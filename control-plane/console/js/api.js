import { endSessionUrl, SsoError, tokenRequest } from './sso.js';

// The control-plane API from the browser: the session (access and refresh tokens, kept in this
// tab's sessionStorage and gone when it closes), authenticated fetches, and problems (RFC 9457)
// turned into errors a page can show. A session is a local user's (tokens from the control
// plane) or a Keycloak user's (tokens from the realm, refreshed there; see sso.js).

const STORAGE_KEY = 'muxly.session';

/** @typedef {import('./sso.js').SsoProvider} SsoProvider */
/** @typedef {{ accessToken: string, refreshToken: string, expiresAt: number, sso?: { provider: SsoProvider, idToken?: string } }} Session */
/** @typedef {{ id: string, username: string, displayName: string | null, roles: string[], permissions: string[], kind: string }} Me */

/** An answer that was not 2xx: its problem's title, detail and pointers. */
export class ApiError extends Error {
  /** @param {number} status @param {any} problem */
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    /** @type {{ pointer?: string, detail?: string }[]} */
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

/** @type {Session | null} */
let session = load();
/** @type {Me | null} */
let me = null;
/** @type {Promise<boolean> | null} */
let refreshing = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let refreshTimer;
/** @type {Set<() => void>} */
const signedOutListeners = new Set();

function load() {
  try {
    const text = sessionStorage.getItem(STORAGE_KEY);
    return text ? /** @type {Session} */ (JSON.parse(text)) : null;
  } catch {
    return null;
  }
}

/** @param {{ accessToken: string, refreshToken: string, expiresIn: number }} pair */
function store(pair) {
  session = {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    expiresAt: Date.now() + pair.expiresIn * 1000,
  };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  scheduleRefresh();
}

/**
 * A Keycloak user's session, from the realm's token endpoint (sign-in or refresh).
 * @param {SsoProvider} provider @param {import('./sso.js').SsoTokens} tokens
 */
function storeSso(provider, tokens) {
  // A refresh answer may leave the ID token out; the sign-in's one still names the session at sign-out.
  const idToken = tokens.id_token ?? session?.sso?.idToken;
  store({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token, expiresIn: tokens.expires_in });
  session = { .../** @type {Session} */ (session), sso: { provider, idToken } };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

function forget() {
  session = null;
  me = null;
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(STORAGE_KEY);
}

// The session refreshes itself a little before the access token expires, so a page left open
// keeps working; a failed refresh (revoked or expired session) signs out.
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!session) return;
  // A fifth of the lifetime ahead, at most 30 s: a 5-minute token is refreshed after 4.5 minutes.
  const left = session.expiresAt - Date.now();
  const inMs = Math.max(1_000, left - Math.min(30_000, left / 5));
  refreshTimer = setTimeout(() => void refresh(), inMs);
}

/** @returns {Promise<boolean>} whether a new token pair was obtained */
function refresh() {
  // NOTE: the refresh token rotates and reusing one revokes the session, so concurrent 401s
  // share one refresh instead of each presenting the same token.
  refreshing ??= (async () => {
    const token = session?.refreshToken;
    if (!token) return false;
    const sso = session?.sso;
    if (sso) return refreshSso(sso.provider, token);
    const answer = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: token }),
    }).catch(() => null);
    if (answer?.ok) {
      store(await answer.json());
      return true;
    }
    if (answer && answer.status === 401) signedOut();
    return false;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** @param {SsoProvider} provider @param {string} token @returns {Promise<boolean>} */
async function refreshSso(provider, token) {
  try {
    storeSso(provider, await tokenRequest(provider, { grant_type: 'refresh_token', refresh_token: token }));
    return true;
  } catch (error) {
    // The realm answered and refused (the Keycloak session ended or expired): signed out. Not
    // reachable: keep the session and try again on the next request.
    if (error instanceof SsoError && error.status !== undefined && error.status < 500) signedOut();
    return false;
  }
}

function signedOut() {
  forget();
  for (const listener of signedOutListeners) listener();
}

/** @param {() => void} listener called when the session ends by itself (expired, revoked) */
export const onSignedOut = (listener) => signedOutListeners.add(listener);

export const isSignedIn = () => session !== null;

/** @param {string} username @param {string} password */
export async function signIn(username, password) {
  const answer = await fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!answer.ok) throw new ApiError(answer.status, await answer.json().catch(() => null));
  store(await answer.json());
  return loadMe();
}

/** Signs in a Keycloak user with the tokens of a completed SSO sign-in (sso.js). @param {{ provider: SsoProvider, tokens: import('./sso.js').SsoTokens }} signIn */
export async function signInWithSso({ provider, tokens }) {
  storeSso(provider, tokens);
  return loadMe();
}

/**
 * Ends the session. A Keycloak user's ends at the realm too: the browser goes to its sign-out
 * page, which comes back to the console.
 * @returns {Promise<boolean>} false when the browser is leaving for the realm's sign-out page
 */
export async function signOut() {
  // A refresh already on its way would reach the realm after the sign-out and be refused there
  // ("Session not active"), or, answered in time, store the session again: wait for it, so the
  // sign-out is the last word and names the session by its newest ID token. No new one starts.
  clearTimeout(refreshTimer);
  if (refreshing) await refreshing.catch(() => false);
  clearTimeout(refreshTimer);
  const sso = session?.sso;
  if (sso) {
    forget();
    location.assign(endSessionUrl(sso.provider, sso.idToken));
    return false;
  }
  if (session) await api('POST', '/api/v1/auth/logout').catch(() => undefined);
  forget();
  return true;
}

/** Who is signed in, with their permissions (the console offers only what they allow). */
export async function loadMe() {
  me = /** @type {Me} */ (await api('GET', '/api/v1/auth/me'));
  return me;
}

export const currentUser = () => me;

/** Whether the signed-in user holds a permission. @param {string} permission */
export const can = (permission) => Boolean(me?.permissions.includes(permission) || me?.permissions.includes('*'));

/**
 * Calls the API with the session's token; one refresh and retry on a 401.
 * @param {string} method @param {string} path @param {unknown} [body] @param {Record<string, string>} [headers]
 * @returns {Promise<any>} the parsed JSON answer (undefined for 204)
 */
export async function api(method, path, body, headers = {}) {
  const full = await apiResponse(method, path, body, headers);
  return full.body;
}

/**
 * fetch() with the session's token; one refresh and retry on a 401 (streams use it directly).
 * @param {string} path @param {RequestInit & { headers?: Record<string, string> }} init
 */
export async function authorizedFetch(path, init) {
  const send = () =>
    fetch(path, {
      ...init,
      headers: { ...(session ? { authorization: `Bearer ${session.accessToken}` } : {}), ...init.headers },
    });
  let answer = await send();
  if (answer.status === 401 && session && (await refresh())) answer = await send();
  if (answer.status === 401 && session) signedOut();
  return answer;
}

/** The problem of an answer that was not 2xx, as an ApiError. @param {Response} answer */
export async function problemOf(answer) {
  return new ApiError(answer.status, await answer.json().catch(() => null));
}

/**
 * Like api(), also giving the answer's headers (for ETags).
 * @param {string} method @param {string} path @param {unknown} [body] @param {Record<string, string>} [headers]
 * @returns {Promise<{ body: any, headers: Headers }>}
 */
export async function apiResponse(method, path, body, headers = {}) {
  const answer = await authorizedFetch(path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!answer.ok) throw new ApiError(answer.status, parsed);
  return { body: parsed, headers: answer.headers };
}

/** Builds a query string from the defined, non-empty values. @param {Record<string, unknown>} params */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

if (session) scheduleRefresh();
