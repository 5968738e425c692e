import { decodeJwt } from 'jose';
import type { Page } from 'playwright-core';
import { waitFor } from '../../test/support/services.ts';
import {
  createThrowAwayRealm,
  exampleRealm,
  KEYCLOAK_URL,
  startAuthHarness,
  type AuthHarness,
  type ThrowAwayRealm,
} from './auth/support.ts';
import { expectAccessible, startConsoleBrowser, type ConsoleBrowser } from './console-page.ts';

// Keycloak SSO in the web console, in headless Chromium against the real Keycloak of the local
// stack: a throw-away realm with a public client for the console (authorization code + PKCE)
// and an editor. The browser goes through Keycloak's own sign-in page, comes back signed in with
// the editor's role, refreshes its session at the realm, and signs out of the realm; a forged
// answer (wrong state) is refused. The browser console must stay free of errors.

const EDITOR = { username: 'erin', password: 'erin-password-1' };
const CONSOLE_CLIENT = 'muxly-console';
// Short-lived realm access tokens, so the console has to refresh its session during the test.
const ACCESS_TOKEN_SECONDS = 10;

let realm: ThrowAwayRealm;
let h: AuthHarness;
let browser: ConsoleBrowser;

beforeAll(async () => {
  realm = await createThrowAwayRealm('muxly-console', {
    ...exampleRealm(),
    accessTokenLifespan: ACCESS_TOKEN_SECONDS,
    users: [
      {
        username: EDITOR.username,
        enabled: true,
        emailVerified: true,
        email: 'erin@muxly.test',
        firstName: 'Erin',
        lastName: 'Editor',
        credentials: [{ type: 'password', value: EDITOR.password, temporary: false }],
        realmRoles: ['muxly-editor'],
      },
    ],
  });
  h = await startAuthHarness({
    keycloak: { issuer: realm.issuer, audience: 'muxly-api', consoleClientId: CONSOLE_CLIENT },
  });
  // The console's client, as docs/console.md tells an operator to make it: public, the standard
  // flow with PKCE required, the console's address as redirect URI and web origin, and the
  // audience the API requires.
  await realm.admin('POST', '/clients', {
    clientId: CONSOLE_CLIENT,
    name: 'Muxly console',
    enabled: true,
    protocol: 'openid-connect',
    publicClient: true,
    standardFlowEnabled: true,
    directAccessGrantsEnabled: false,
    implicitFlowEnabled: false,
    redirectUris: [`${h.baseUrl}/console/`],
    webOrigins: [h.baseUrl],
    attributes: { 'pkce.code.challenge.method': 'S256', 'post.logout.redirect.uris': `${h.baseUrl}/console/` },
    protocolMappers: [
      {
        name: 'audience muxly-api',
        protocol: 'openid-connect',
        protocolMapper: 'oidc-audience-mapper',
        config: { 'included.custom.audience': 'muxly-api', 'access.token.claim': 'true', 'id.token.claim': 'false' },
      },
    ],
  });
  browser = await startConsoleBrowser(h.baseUrl, {
    otherOrigins: [`${KEYCLOAK_URL}/`],
    foreignPages: [`${realm.issuer}/login-actions/`, `${KEYCLOAK_URL}/resources/`],
  });
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
  await realm?.drop().catch(() => undefined);
});
afterEach(() => {
  // Errors the console (or Keycloak's pages) logged or threw, and requests to any third host.
  expect(browser.takeErrors()).toEqual([]);
});

const storedSession = (page: Page) =>
  page.evaluate(
    () =>
      JSON.parse(sessionStorage.getItem('muxly.session') ?? 'null') as {
        accessToken: string;
        refreshToken: string;
      } | null,
  );

/** From the console's sign-in page to Keycloak's. */
async function goToKeycloak(page: Page): Promise<URL> {
  await page.goto(`${h.baseUrl}/console`);
  await page.getByRole('button', { name: 'Sign in with SSO' }).click();
  await page.waitForURL(`${realm.issuer}/protocol/openid-connect/auth?**`);
  return new URL(page.url());
}

describe('SSO sign-in in the web console', () => {
  it('tells the console where to sign in, without a secret, and lets it fetch only that realm', async () => {
    const answer = await h.api('GET', '/api/v1/auth/providers');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      local: true,
      sso: {
        type: 'keycloak',
        issuer: realm.issuer,
        clientId: CONSOLE_CLIENT,
        authorizationEndpoint: `${realm.issuer}/protocol/openid-connect/auth`,
        tokenEndpoint: `${realm.issuer}/protocol/openid-connect/token`,
        endSessionEndpoint: `${realm.issuer}/protocol/openid-connect/logout`,
      },
    });
    const page = await fetch(`${h.baseUrl}/console`);
    expect(page.headers.get('content-security-policy')).toContain(`connect-src 'self' ${KEYCLOAK_URL};`);
  });

  it('signs an editor in through Keycloak, refreshes the session there, and signs out of the realm', async () => {
    const page = await browser.openPage();
    try {
      const tokenRequests: string[] = [];
      page.on('request', (request) => {
        if (request.url() === `${realm.issuer}/protocol/openid-connect/token`)
          tokenRequests.push(new URLSearchParams(request.postData() ?? '').get('grant_type') ?? '');
      });

      await page.goto(`${h.baseUrl}/console`);
      await page.getByRole('button', { name: 'Sign in with SSO' }).waitFor();
      await expectAccessible(page, 'sign-in with SSO');

      const authorization = await goToKeycloak(page);
      expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
        response_type: 'code',
        client_id: CONSOLE_CLIENT,
        redirect_uri: `${h.baseUrl}/console/`,
        code_challenge_method: 'S256',
        code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        state: expect.any(String),
        nonce: expect.any(String),
      });
      // Keycloak's own sign-in form.
      await page.locator('#username').fill(EDITOR.username);
      await page.locator('#password').fill(EDITOR.password);
      await page.locator('#kc-login').click();

      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      // The code is gone from the address (and from the history).
      expect(page.url()).toBe(`${h.baseUrl}/console/#/overview`);
      await expect(page.locator('.who').textContent()).resolves.toBe(`${EDITOR.username} · editor`);
      expect(tokenRequests).toEqual(['authorization_code']);
      expect(await page.evaluate(() => sessionStorage.getItem('muxly.sso.pending'))).toBeNull();

      // The editor's pages and actions; no Administration.
      const nav = page.getByRole('navigation');
      await expect(nav.getByRole('link', { name: 'Administration' }).count()).resolves.toBe(0);
      await nav.getByRole('link', { name: 'Destinations' }).click();
      await page.getByRole('heading', { level: 1, name: 'Destinations' }).waitFor();
      await page.getByRole('button', { name: 'New destination' }).waitFor();

      // The session refreshes itself at the realm before the access token expires, and keeps
      // working once the first one has expired (the API refuses that one by then).
      const first = (await storedSession(page))!;
      expect(decodeJwt(first.accessToken)).toMatchObject({ iss: realm.issuer, preferred_username: EDITOR.username });
      const refreshed = await waitFor(
        'the console to refresh its session',
        async () => {
          const now = (await storedSession(page))!;
          return now.accessToken !== first.accessToken ? now : undefined;
        },
        60_000,
      );
      expect(tokenRequests).toEqual(['authorization_code', 'refresh_token']);
      expect(decodeJwt(refreshed.accessToken).sid).toBe(decodeJwt(first.accessToken).sid);
      const firstExpiry = decodeJwt(first.accessToken).exp! * 1000;
      // The API's clock tolerance is 5 s.
      await waitFor(
        "the first access token's end",
        async () => Date.now() > firstExpiry + 6_000 || undefined,
        60_000,
        500,
      );
      expect((await h.api('GET', '/api/v1/auth/me', { token: first.accessToken })).status).toBe(401);
      await nav.getByRole('link', { name: 'Rules' }).click();
      await page.getByRole('heading', { level: 1, name: 'Routing rules' }).waitFor();
      await page.getByRole('button', { name: 'New rule' }).waitFor();

      // Sign out ends the Keycloak session: its refresh token is refused and the realm has no
      // session of the user left, so the next SSO sign-in asks for the password again.
      const beforeSignOut = (await storedSession(page))!;
      const [user] = (await realm.admin('GET', `/users?username=${EDITOR.username}&exact=true`)) as { id: string }[];
      expect(await realm.admin('GET', `/users/${user!.id}/sessions`)).toHaveLength(1);
      // Signing out while a refresh is on its way: the next refresh is held until the click, and the
      // console leaves for the realm's sign-out only once the realm has answered it. Otherwise the
      // refresh would reach the realm after the sign-out and be refused ("Session not active").
      const tokenEndpoint = `${realm.issuer}/protocol/openid-connect/token`;
      const trail: string[] = [];
      page.on('request', (request) => {
        if (request.url().startsWith(`${realm.issuer}/protocol/openid-connect/logout`)) trail.push('sign-out');
      });
      page.on('response', (response) => {
        if (response.url() === tokenEndpoint) trail.push(`refresh answered ${response.status()}`);
      });
      let releaseRefresh!: () => Promise<void>;
      const refreshHeld = new Promise<void>((held) => {
        void page.route(tokenEndpoint, (route) => {
          releaseRefresh = () => route.continue();
          held();
        });
      });
      await refreshHeld;
      await page.getByRole('button', { name: 'Sign out' }).click();
      // Time enough for a console that does not wait to have left for the realm.
      await page.waitForTimeout(500);
      expect(trail).toEqual([]);
      await releaseRefresh();
      await page.unroute(tokenEndpoint);
      await page.getByRole('heading', { level: 1, name: 'Sign in to Muxly' }).waitFor();
      expect(trail).toEqual(['refresh answered 200', 'sign-out']);
      expect(new URL(page.url()).origin).toBe(h.baseUrl);
      expect(await storedSession(page)).toBeNull();
      expect(await realm.admin('GET', `/users/${user!.id}/sessions`)).toHaveLength(0);
      const reuse = await fetch(`${realm.issuer}/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: CONSOLE_CLIENT,
          refresh_token: beforeSignOut.refreshToken,
        }),
      });
      expect(reuse.status).toBe(400);
      await goToKeycloak(page);
      await page.locator('#password').waitFor();
    } finally {
      await page.close();
    }
  });

  it('refuses an answer whose state is not the one of the sign-in this tab started', async () => {
    const page = await browser.openPage();
    try {
      const tokenRequests: string[] = [];
      page.on('request', (request) => {
        if (request.url().startsWith(`${realm.issuer}/protocol/openid-connect/token`))
          tokenRequests.push(request.url());
      });
      const authorization = await goToKeycloak(page);
      expect(authorization.searchParams.get('state')).not.toBe('forged-state');
      // As if someone sent the browser to the console with a code of theirs.
      await page.goto(
        `${h.baseUrl}/console/?code=forged-code&state=forged-state&iss=${encodeURIComponent(realm.issuer)}`,
      );
      await page
        .getByRole('alert')
        .getByText('The sign-in answer was refused: it does not belong to a sign-in started in this tab')
        .waitFor();
      expect(page.url()).toBe(`${h.baseUrl}/console/#/signin`);
      expect(tokenRequests).toEqual([]);
      expect(await storedSession(page)).toBeNull();
      await expectAccessible(page, 'sign-in with a refused answer');
    } finally {
      await page.close();
    }
  });
});
