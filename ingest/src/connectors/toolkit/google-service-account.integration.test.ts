import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ConfigurationError } from '@muxly/common';
import { bigqueryConnector } from '../bigquery/connector.ts';
import { ga4Connector } from '../ga4/connector.ts';
import { checkConnector, runSync, SyncFailedError } from '../sync.ts';
import { startFakeBigQuery, type FakeBigQuery } from '../bigquery/bigquery.fake.ts';
import { startFakeGa4, type FakeGa4 } from '../ga4/ga4.fake.ts';
import { startFakeTokenEndpoint } from './testing/oauth-token.fake.ts';
import { allRecords, memorySink, testContext, verdicts } from './testing/test-context.ts';

// The Google connectors' service-account path: the connector signs a JWT with the key file's
// private key and exchanges it at the key's token_uri; a local token endpoint verifies the
// assertion for real (RS256 signature with the key's public half, iss, aud, scope, iat/exp) and
// the local BigQuery and GA4 servers accept only the access tokens it issued.

const PROJECT = 'muxly-test';
const PROPERTY = '123456789';
const EMAIL = 'muxly-reader@muxly-test.iam.gserviceaccount.com';

function keyPair(): { privatePem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey };
}

/** A key file as Google Cloud downloads it. */
const keyFile = (privatePem: string, tokenUri: string, email = EMAIL) => ({
  type: 'service_account',
  project_id: PROJECT,
  private_key_id: 'f00d',
  private_key: privatePem,
  client_email: email,
  client_id: '1234567890',
  auth_uri: 'https://accounts.google.com/o/oauth2/auth',
  token_uri: tokenUri,
  auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
  universe_domain: 'googleapis.com',
});

let key: ReturnType<typeof keyPair>;
let tokens: Awaited<ReturnType<typeof startFakeTokenEndpoint>>;
let bigquery: FakeBigQuery;
let ga4: FakeGa4;
beforeEach(async () => {
  key = keyPair();
  tokens = await startFakeTokenEndpoint({
    style: 'google',
    serviceAccounts: [{ clientEmail: EMAIL, publicKey: key.publicKey }],
  });
  bigquery = await startFakeBigQuery({
    projectId: PROJECT,
    schema: [
      { name: 'event_time', type: 'TIMESTAMP' },
      { name: 'signups', type: 'INT64' },
    ],
    rows: [1, 2, 3].map((n) => ({ event_time: `2026-03-0${n}T00:00:00.000Z`, signups: n })),
    cursorColumn: 'event_time',
    acceptToken: (token) => tokens.accepts(token),
  });
  ga4 = await startFakeGa4(PROPERTY, [{ date: '2026-03-10', country: 'US', activeUsers: 7, sessions: 9 }], {
    acceptToken: (token) => tokens.accepts(token),
  });
});
afterEach(async () => {
  await Promise.all([tokens.close(), bigquery.close(), ga4.close()]);
});

const bigqueryConfig = () => ({
  projectId: PROJECT,
  query: 'SELECT event_time, signups FROM `muxly-test.product.signups` WHERE event_time > @cursor ORDER BY event_time',
  cursorColumn: 'event_time',
  lookbackSeconds: 0,
  pageSize: 2,
  pollIntervalMs: 10,
  mapping: { kind: 'metric', name: 'signups', timestampColumn: 'event_time', valueColumn: 'signups' },
  apiEndpoint: bigquery.url,
  retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 100 },
});
const ga4Config = () => ({
  propertyId: PROPERTY,
  dimensions: ['country'],
  metrics: ['activeUsers'],
  initialDays: 1,
  apiEndpoint: ga4.url,
  retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 100 },
});
const syncBigQuery = (credentials: unknown, connectorId = 'bq-service-account') =>
  runSync({
    connector: bigqueryConnector,
    config: bigqueryConfig(),
    credentials,
    cursor: null,
    sink: memorySink(),
    context: { ...testContext(), connectorId },
  });

describe('Google service accounts (JWT bearer grant at the key file token_uri)', () => {
  it('BigQuery: signs an RS256 assertion the token endpoint verifies, and calls the API with the token it issued', async () => {
    const result = await syncBigQuery({ serviceAccountKey: keyFile(key.privatePem, tokens.tokenUrl) });
    expect(result.records).toBe(3);
    // One token for the whole sync (job insert and every page): it is cached until near expiry.
    expect(tokens.grants).toHaveLength(1);
    expect(tokens.grants[0]!.claims).toMatchObject({
      alg: 'RS256',
      iss: EMAIL,
      aud: tokens.tokenUrl,
      scope: 'https://www.googleapis.com/auth/bigquery',
    });
    const [issued] = [...tokens.issued];
    expect(bigquery.requests.length).toBeGreaterThan(2);
    for (const request of bigquery.requests) expect(request.headers.authorization).toBe(`Bearer ${issued}`);
    // The token endpoint got a form, never the private key.
    const tokenRequest = tokens.requests[0]!;
    expect(tokenRequest.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(new URLSearchParams(tokenRequest.body).get('grant_type')).toBe(
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    );
    expect(tokenRequest.body).not.toContain('PRIVATE');

    // A second sync of the same connector reuses the cached token.
    await syncBigQuery({ serviceAccountKey: keyFile(key.privatePem, tokens.tokenUrl) });
    expect(tokens.grants).toHaveLength(1);
  });

  it('GA4: the assertion asks the Analytics read-only scope, and the report is read with the issued token', async () => {
    const sink = memorySink();
    const result = await runSync({
      connector: ga4Connector,
      config: ga4Config(),
      credentials: { serviceAccountKey: keyFile(key.privatePem, tokens.tokenUrl) },
      cursor: null,
      sink,
      context: { ...testContext(), connectorId: 'ga4-service-account' },
    });
    expect(result.records).toBe(1);
    expect(allRecords(sink.pages)[0]).toMatchObject({ name: 'ga4.activeUsers', value: 7 });
    expect(tokens.grants[0]!.claims).toMatchObject({
      iss: EMAIL,
      aud: tokens.tokenUrl,
      scope: 'https://www.googleapis.com/auth/analytics.readonly',
    });
    expect(ga4.requests[0]!.headers.authorization).toBe(`Bearer ${[...tokens.issued][0]}`);
  });

  it('a token the API stops accepting is renewed once, and the sync goes on', async () => {
    const credentials = { serviceAccountKey: keyFile(key.privatePem, tokens.tokenUrl) };
    await syncBigQuery(credentials, 'bq-revoked');
    const [first] = [...tokens.issued];
    tokens.revoke(first!);
    const result = await syncBigQuery(credentials, 'bq-revoked');
    expect(result.records).toBe(3);
    expect(tokens.grants).toHaveLength(2);
    const refused = bigquery.requests.filter((request) => request.headers.authorization === `Bearer ${first}`);
    expect(refused.length).toBeGreaterThan(0);
    expect(bigquery.requests.at(-1)!.headers.authorization).toBe(`Bearer ${[...tokens.issued][0]}`);
  });

  it('a key the token endpoint does not trust fails the connection test at authenticate, with its answer', async () => {
    const stranger = keyPair(); // same account name, another key: the signature does not verify
    const result = await checkConnector(
      bigqueryConnector,
      bigqueryConfig(),
      { serviceAccountKey: keyFile(stranger.privatePem, tokens.tokenUrl) },
      testContext(),
    );
    expect(verdicts(result)).toEqual(['config:ok', 'authenticate:failed']);
    expect(result.steps[1]!.message).toMatch(
      /Google token endpoint refused the request \(invalid_grant: Invalid JWT Signature\.\)/,
    );
    expect(result.steps[1]!.message).toContain(EMAIL);
    expect(bigquery.requests).toHaveLength(0); // no API call without a token
  });

  it('a key that cannot sign, or a key file with fields missing, is named as such', async () => {
    const broken = await checkConnector(
      ga4Connector,
      ga4Config(),
      {
        serviceAccountKey: keyFile(
          '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n',
          tokens.tokenUrl,
        ),
      },
      testContext(),
    );
    expect(verdicts(broken)).toEqual(['config:ok', 'authenticate:failed']);
    expect(broken.steps[1]!.message).toMatch(/cannot sign: private_key is not a PEM-encoded PKCS#8 RSA key/);
    expect(tokens.requests).toHaveLength(0);

    const { token_uri: _dropped, ...withoutTokenUri } = keyFile(key.privatePem, tokens.tokenUrl);
    const incomplete = await checkConnector(
      ga4Connector,
      ga4Config(),
      { serviceAccountKey: { ...withoutTokenUri, type: 'authorized_user' } },
      testContext(),
    );
    expect(verdicts(incomplete)).toEqual(['config:failed']);
    expect(incomplete.steps[0]!.message).toContain('/serviceAccountKey/token_uri');
    expect(incomplete.steps[0]!.message).toContain('/serviceAccountKey/type');
  });

  it('a refused key stops a sync with a configuration error (disable and report), not a retry', async () => {
    const stranger = keyPair();
    const error = (await syncBigQuery({ serviceAccountKey: keyFile(stranger.privatePem, tokens.tokenUrl) }).catch(
      (caught: unknown) => caught,
    )) as SyncFailedError;
    expect(error).toBeInstanceOf(SyncFailedError);
    expect(error.cause).toBeInstanceOf(ConfigurationError);
    expect(tokens.requests).toHaveLength(1);
  });

  it('the token URL passes the outbound address guard like any endpoint', async () => {
    const result = await checkConnector(
      ga4Connector,
      { ...ga4Config(), apiEndpoint: undefined },
      { serviceAccountKey: keyFile(key.privatePem, tokens.tokenUrl) },
      testContext({ allowLoopback: false }),
    );
    expect(verdicts(result)).toEqual(['config:ok', 'connect:failed']);
    expect(result.steps[1]!.message).toMatch(/127\.0\.0\.1/);
    expect(tokens.requests).toHaveLength(0);
  });
});
