import { ConfigurationError } from '@muxly/common';
import type { ConnectorContext } from '../connector.ts';
import { ga4Connector } from '../ga4/connector.ts';
import { hubspotConnector } from '../hubspot/connector.ts';
import { checkConnector, runSync, SyncFailedError } from '../sync.ts';
import { startFakeGa4, type FakeGa4 } from '../ga4/ga4.fake.ts';
import { contact, startFakeHubSpot, type FakeHubSpot } from '../hubspot/hubspot.fake.ts';
import { startFakeTokenEndpoint } from './testing/oauth-token.fake.ts';
import { memorySink, testContext, verdicts } from './testing/test-context.ts';

// OAuth with a user's refresh token: HubSpot public apps (POST {apiBaseUrl}/oauth/v1/token) and
// GA4 with a Google user's consent (the Google token endpoint). The local token endpoints check
// the grant (client id and secret, a refresh token they issued) and the API fakes accept only
// the access tokens they issued.

const CLIENT = { clientId: 'client-123', clientSecret: 'shh-client-secret' };

/** A test context that records the credentials the connector asks to store. */
function storingContext(connectorId: string): ConnectorContext & { saved: Record<string, unknown>[] } {
  const saved: Record<string, unknown>[] = [];
  return {
    ...testContext(),
    connectorId,
    saved,
    saveCredentials: async (credentials) => void saved.push(credentials),
  };
}

describe('HubSpot public app: refresh token at {apiBaseUrl}/oauth/v1/token', () => {
  let hubspot: FakeHubSpot;
  const start = async (rotate: boolean, expiresIn?: number) => {
    hubspot = await startFakeHubSpot(
      { contacts: [1, 2, 3].map((n) => contact(n, `2026-03-0${n}T10:00:00.000Z`, `user${n}@example.com`)) },
      {
        tokenEndpoint: {
          style: 'hubspot',
          clients: [CLIENT],
          refreshTokens: ['rt-initial'],
          rotateRefreshTokens: rotate,
          ...(expiresIn === undefined ? {} : { expiresIn }),
        },
      },
    );
  };
  afterEach(async () => {
    await hubspot.close();
  });
  const config = () => ({
    objectType: 'contacts',
    pageSize: 2,
    apiBaseUrl: hubspot.url,
    retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 100 },
  });
  const sync = (credentials: unknown, context: ConnectorContext) =>
    runSync({ connector: hubspotConnector, config: config(), credentials, cursor: null, sink: memorySink(), context });

  it('exchanges the refresh token (form-encoded grant) and searches with the access token it got', async () => {
    await start(false);
    const context = storingContext('hubspot-refresh');
    const result = await sync({ ...CLIENT, refreshToken: 'rt-initial' }, context);
    expect(result.records).toBe(3);
    const tokenRequests = hubspot.requests.filter((request) => request.path === '/oauth/v1/token');
    expect(tokenRequests).toHaveLength(1); // one token for both pages
    expect(tokenRequests[0]!.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(Object.fromEntries(new URLSearchParams(tokenRequests[0]!.body))).toEqual({
      grant_type: 'refresh_token',
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      refresh_token: 'rt-initial',
    });
    const [issued] = [...hubspot.tokens!.issued];
    const searches = hubspot.requests.filter((request) => request.path.endsWith('/search'));
    expect(searches).toHaveLength(2);
    for (const search of searches) expect(search.headers.authorization).toBe(`Bearer ${issued}`);
    // HubSpot answered the same refresh token: nothing to store.
    expect(context.saved).toEqual([]);
  });

  it('renews a token that is about to expire before using it', async () => {
    // Tokens of two minutes are inside the renewal margin (five minutes): every call renews first.
    await start(false, 120);
    const result = await sync({ ...CLIENT, refreshToken: 'rt-initial' }, storingContext('hubspot-short-lived'));
    expect(result.records).toBe(3);
    expect(hubspot.tokens!.grants).toHaveLength(2);
    const searches = hubspot.requests.filter((request) => request.path.endsWith('/search'));
    // Two searches, two tokens, no repeat: no search was refused and retried with a renewed token.
    expect(searches).toHaveLength(2);
    expect(new Set(searches.map((search) => search.headers.authorization)).size).toBe(2);
  });

  it('a rotated refresh token is handed over for storage before it is used, and replaces the old one', async () => {
    await start(true);
    const context = storingContext('hubspot-rotating');
    await sync({ ...CLIENT, refreshToken: 'rt-initial' }, context);
    expect(context.saved).toHaveLength(1);
    const stored = context.saved[0]!;
    expect(stored).toMatchObject({ ...CLIENT, refreshToken: expect.stringMatching(/^rt-/) });
    expect(hubspot.tokens!.refreshTokens).toEqual(new Set([stored.refreshToken]));

    // The access token is revoked; the control plane has not stored the new refresh token yet, so
    // the next sync still carries the old one: the connector renews with the newest it knows.
    for (const token of hubspot.tokens!.issued) hubspot.tokens!.revoke(token);
    const result = await sync({ ...CLIENT, refreshToken: 'rt-initial' }, context);
    expect(result.records).toBe(3);
    const grants = hubspot.tokens!.grants.map((grant) => grant.refreshToken);
    expect(grants).toEqual(['rt-initial', stored.refreshToken]);
    expect(context.saved).toHaveLength(2);
  });

  it('a revoked refresh token fails the check at authenticate and stops a sync as a configuration error', async () => {
    await start(false);
    const check = await checkConnector(
      hubspotConnector,
      config(),
      { ...CLIENT, refreshToken: 'rt-revoked' },
      storingContext('hubspot-revoked'),
    );
    expect(verdicts(check)).toEqual(['config:ok', 'authenticate:failed']);
    expect(check.steps[1]!.message).toMatch(
      /HubSpot token endpoint refused the request \(BAD_REFRESH_TOKEN: Token has been expired or revoked\.\): the refresh token is expired or revoked .*authorize the app again/,
    );
    // Secrets never appear in what the user sees.
    expect(check.steps[1]!.message).not.toContain(CLIENT.clientSecret);
    expect(check.steps[1]!.message).not.toContain('rt-revoked');

    const error = (await sync({ ...CLIENT, refreshToken: 'rt-revoked' }, storingContext('hubspot-revoked')).catch(
      (caught: unknown) => caught,
    )) as SyncFailedError;
    expect(error).toBeInstanceOf(SyncFailedError);
    expect(error.cause).toBeInstanceOf(ConfigurationError);
  });

  it('a wrong client secret is named as such', async () => {
    await start(false);
    const check = await checkConnector(
      hubspotConnector,
      config(),
      { ...CLIENT, clientSecret: 'wrong', refreshToken: 'rt-initial' },
      storingContext('hubspot-bad-client'),
    );
    expect(verdicts(check)).toEqual(['config:ok', 'authenticate:failed']);
    expect(check.steps[1]!.message).toMatch(/BAD_CLIENT_ID.*check clientId and clientSecret/);
  });
});

describe("GA4 with a user's consent: refresh token at Google's token endpoint", () => {
  let ga4: FakeGa4;
  let google: Awaited<ReturnType<typeof startFakeTokenEndpoint>>;
  beforeEach(async () => {
    google = await startFakeTokenEndpoint({ style: 'google', clients: [CLIENT], refreshTokens: ['1//consent'] });
    ga4 = await startFakeGa4('42', [{ date: '2026-03-10', country: 'US', activeUsers: 3, sessions: 4 }], {
      acceptToken: (token) => google.accepts(token),
    });
  });
  afterEach(async () => {
    await Promise.all([ga4.close(), google.close()]);
  });
  const config = () => ({
    propertyId: '42',
    metrics: ['sessions'],
    initialDays: 1,
    apiEndpoint: ga4.url,
    retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 100 },
  });

  it('renews the access token with the refresh token and reads the report with it', async () => {
    const result = await runSync({
      connector: ga4Connector,
      config: config(),
      credentials: { ...CLIENT, refreshToken: '1//consent', tokenUrl: google.tokenUrl },
      cursor: null,
      sink: memorySink(),
      context: storingContext('ga4-consent'),
    });
    expect(result.records).toBe(1);
    expect(Object.fromEntries(new URLSearchParams(google.requests[0]!.body))).toEqual({
      grant_type: 'refresh_token',
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      refresh_token: '1//consent',
    });
    expect(ga4.requests[0]!.headers.authorization).toBe(`Bearer ${[...google.issued][0]}`);
  });

  it('invalid_grant (consent withdrawn) fails the check at authenticate with what to do', async () => {
    const check = await checkConnector(
      ga4Connector,
      config(),
      { ...CLIENT, refreshToken: '1//withdrawn', tokenUrl: google.tokenUrl },
      storingContext('ga4-withdrawn'),
    );
    expect(verdicts(check)).toEqual(['config:ok', 'authenticate:failed']);
    expect(check.steps[1]!.message).toMatch(
      /Google token endpoint refused the request \(invalid_grant: Token has been expired or revoked\.\).*authorize the app again/,
    );
    expect(ga4.requests).toHaveLength(0);
  });
});
