import { ConfigurationError, RetryableError } from '@muxly/common';
import { bigqueryConnector } from './connector.ts';
import { checkConnector, SyncFailedError } from '../sync.ts';
import { startFakeBigQuery, type FakeBigQuery } from './bigquery.fake.ts';
import { GOOGLE_TOKEN, googleError } from '../toolkit/testing/google-errors.ts';
import { allRecords, memorySink, syncRunner, testContext, verdicts } from '../toolkit/testing/test-context.ts';

// @google-cloud/bigquery (the code production runs) against a local server speaking the
// documented BigQuery REST v2 wire format.

const PROJECT = 'muxly-test';
const day = (n: number) => `2026-03-0${n}T00:00:00.000Z`;

let bigquery: FakeBigQuery;
beforeEach(async () => {
  bigquery = await startFakeBigQuery({
    projectId: PROJECT,
    schema: [
      { name: 'event_time', type: 'TIMESTAMP' },
      { name: 'plan', type: 'STRING' },
      { name: 'signups', type: 'INT64' },
    ],
    rows: [1, 2, 3, 4, 5].map((n) => ({ event_time: day(n), plan: n % 2 === 0 ? 'pro' : 'free', signups: n * 10 })),
    cursorColumn: 'event_time',
    pendingPolls: 1,
  });
});
afterEach(async () => {
  await bigquery.close();
});

const config = (overrides: Record<string, unknown> = {}) => ({
  projectId: PROJECT,
  location: 'US',
  query:
    'SELECT event_time, plan, signups FROM `muxly-test.product.daily_signups` WHERE event_time > @cursor ORDER BY event_time',
  cursorColumn: 'event_time',
  lookbackSeconds: 0,
  pageSize: 2,
  pollIntervalMs: 50,
  mapping: {
    kind: 'metric',
    name: 'signups',
    timestampColumn: 'event_time',
    valueColumn: 'signups',
    dimensionColumns: ['plan'],
  },
  apiEndpoint: bigquery.url,
  retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 5_000 },
  ...overrides,
});
const credentials = { accessToken: GOOGLE_TOKEN };

const sync = syncRunner(bigqueryConnector, config, credentials);

const insertRequests = () =>
  bigquery.requests.filter((request) => request.method === 'POST' && request.path.endsWith('/jobs'));

describe('BigQuery connector with @google-cloud/bigquery against a local REST v2 server', () => {
  it('first sync runs the job, waits for jobComplete, pages through rows and maps metrics', async () => {
    const { result, sink, context } = await sync();
    expect(result).toMatchObject({ records: 5, pages: 3, cursor: { value: day(5) } });
    expect(context.sleeps).toEqual([50]); // one jobComplete:false poll
    expect(allRecords(sink.pages)[1]).toMatchObject({
      kind: 'metric',
      name: 'signups',
      value: 20,
      timestamp: day(2),
      dimensions: { plan: 'pro' },
    });
    const inserted = JSON.parse(insertRequests()[0]!.body);
    expect(inserted.configuration.query).toMatchObject({
      useLegacySql: false,
      parameterMode: expect.stringMatching(/^named$/i), // the client sends it lower-case; the API accepts either
      queryParameters: [{ name: 'cursor', parameterType: { type: 'TIMESTAMP' } }],
    });
    const pageRequests = bigquery.requests.filter((request) => request.path.includes('/queries/'));
    expect(pageRequests.map((request) => request.query.get('formatOptions.useInt64Timestamp'))).toContain('true');
    expect(bigquery.requests[0]!.headers.authorization).toBe(`Bearer ${GOOGLE_TOKEN}`);
  });

  it('incremental sync passes the cursor minus the lookback; re-read rows keep their ids', async () => {
    const first = await sync();
    bigquery.rows.push({ event_time: '2026-03-06T00:00:00.000Z', plan: 'pro', signups: 60 });
    const second = await sync({ cursor: first.result.cursor, overrides: { lookbackSeconds: 86_400 } });
    const parameter = JSON.parse(insertRequests().at(-1)!.body).configuration.query.queryParameters[0].parameterValue
      .value as string;
    expect(Date.parse(parameter.replace(' ', 'T'))).toBe(Date.parse(day(4)));
    const ids = allRecords(second.sink.pages).map((record) => record.id);
    expect(ids).toHaveLength(2); // day 5 again (lookback) and day 6
    expect(allRecords(first.sink.pages).map((record) => record.id)).toContain(ids[0]);
    expect(second.result.cursor).toEqual({ value: '2026-03-06T00:00:00.000Z' });
  });

  it('resumes a failed sync from the job and page token of the last published page', async () => {
    const failing = memorySink({ failOnPublish: 2 });
    const error = (await sync({ sink: failing }).catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error).toBeInstanceOf(SyncFailedError);
    expect(error.progress.records).toBe(2);
    expect(error.progress.cursor).toMatchObject({
      pending: { jobId: expect.any(String), pageToken: expect.any(String), highest: day(2) },
    });
    const resumed = await sync({ cursor: error.progress.cursor });
    expect(insertRequests()).toHaveLength(1); // the job was not re-run
    expect(allRecords(resumed.sink.pages).map((record) => record.timestamp)).toEqual([day(3), day(4), day(5)]);
    expect(resumed.result.cursor).toEqual({ value: day(5) });
  });

  it('re-runs the query when the job to resume has expired', async () => {
    const { result } = await sync({
      cursor: { value: day(3), pending: { jobId: 'expired-job', location: 'US', pageToken: 'Mg', highest: day(4) } },
    });
    expect(result).toMatchObject({ records: 2, cursor: { value: day(5) } });
    expect(insertRequests()).toHaveLength(1);
  });

  it('stops with a ConfigurationError when the credentials are refused', async () => {
    const error = (await sync({ creds: { accessToken: 'ya29.revoked' } }).catch(
      (caught: unknown) => caught,
    )) as SyncFailedError;
    expect(error.cause).toBeInstanceOf(ConfigurationError);
    expect(String(error.cause)).toMatch(/401/);
    expect(bigquery.requests).toHaveLength(1);
  });

  it('stops with a ConfigurationError on an invalid query', async () => {
    const error = (await sync({ overrides: { query: 'SELEC x FORM y WHERE t > @cursor' } }).catch(
      (caught: unknown) => caught,
    )) as SyncFailedError;
    expect(error.cause).toBeInstanceOf(ConfigurationError);
    expect(String(error.cause)).toMatch(/invalidQuery/);
  });

  it.each([
    [
      '429 with Retry-After',
      {
        path: /\/queries\//,
        status: 429,
        headers: { 'retry-after': '2' },
        body: googleError(429, 'RESOURCE_EXHAUSTED', 'Too many requests', 'rateLimitExceeded', 'usageLimits'),
      },
      2000,
    ],
    [
      '403 rateLimitExceeded',
      {
        path: /\/jobs$/,
        status: 403,
        body: googleError(
          403,
          'PERMISSION_DENIED',
          'Exceeded rate limits: too many api requests per user per method',
          'rateLimitExceeded',
          'usageLimits',
        ),
      },
      undefined,
    ],
    [
      '503 backendError',
      { path: /\/queries\//, status: 503, body: googleError(503, 'UNAVAILABLE', 'Backend error', 'backendError') },
      undefined,
    ],
  ])('retries after %s and completes', async (_name, fault, expectedWait) => {
    bigquery.fail(fault);
    const { result, context } = await sync();
    expect(result.records).toBe(5);
    const retryWaits = context.sleeps.filter((ms) => ms !== 50);
    expect(retryWaits).toHaveLength(1);
    if (expectedWait !== undefined) expect(retryWaits[0]).toBe(expectedWait);
  });

  it('gives up on persistent 5xx with a RetryableError after the policy attempts', async () => {
    bigquery.fail({
      path: /\/jobs$/,
      status: 500,
      body: googleError(500, 'INTERNAL', 'Internal error', 'internalError'),
      times: 3,
    });
    const error = (await sync().catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error.cause).toBeInstanceOf(RetryableError);
    expect(insertRequests()).toHaveLength(3);
  });

  it('connection check dry-runs the query and says which step failed', async () => {
    const good = await checkConnector(bigqueryConnector, config(), credentials, testContext());
    expect(good).toMatchObject({ ok: true });
    expect(verdicts(good)).toEqual(['config:ok', 'authenticate:ok', 'permission:ok', 'check:ok']);
    expect(good.steps.at(-1)!.message).toMatch(/would process 1024 bytes/);
    const dryRuns = bigquery.requests
      .filter((request) => request.path.endsWith('/jobs'))
      .map((request) => JSON.parse(request.body));
    expect(dryRuns).toEqual([expect.objectContaining({ configuration: expect.objectContaining({ dryRun: true }) })]);

    const badToken = await checkConnector(bigqueryConnector, config(), { accessToken: 'ya29.bad' }, testContext());
    expect(verdicts(badToken)).toEqual(['config:ok', 'authenticate:failed']);
    expect(badToken.steps.at(-1)!.message).toMatch(/refused the credentials \(401\)/);

    const otherProject = await checkConnector(
      bigqueryConnector,
      config({ projectId: 'someone-elses' }),
      credentials,
      testContext(),
    );
    expect(verdicts(otherProject)).toEqual(['config:ok', 'authenticate:ok', 'permission:failed']);
    expect(otherProject.steps.at(-1)!.message).toMatch(/denied access \(403 accessDenied\).*bigquery\.jobs\.create/);

    const missingTable = await checkConnector(
      bigqueryConnector,
      config({ query: 'SELECT * FROM `muxly-test.product.missing_table` WHERE event_time > @cursor' }),
      credentials,
      testContext(),
    );
    expect(verdicts(missingTable)).toEqual(['config:ok', 'authenticate:ok', 'permission:ok', 'check:failed']);
    expect(missingTable.steps.at(-1)!.message).toMatch(/404 notFound.*missing_table/);

    // Unreachable: nothing was learned, so the first step fails.
    bigquery.fail({
      path: /\/jobs$/,
      status: 503,
      body: googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'backendError'),
    });
    const down = await checkConnector(bigqueryConnector, config(), credentials, testContext());
    expect(verdicts(down)).toEqual(['config:ok', 'authenticate:failed']);
    expect(down.steps.at(-1)!.message).toMatch(/503/);
  });
});
