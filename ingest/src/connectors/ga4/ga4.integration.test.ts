import { ConfigurationError, RetryableError } from '@muxly/common';
import { ga4Connector } from './connector.ts';
import { checkConnector, type SyncFailedError } from '../sync.ts';
import { ga4QuotaExhausted, startFakeGa4, type FakeGa4, type Ga4Row } from './ga4.fake.ts';
import { GOOGLE_TOKEN, googleError } from '../toolkit/testing/google-errors.ts';
import { allRecords, memorySink, syncRunner, testContext, verdicts } from '../toolkit/testing/test-context.ts';

// @google-analytics/data (the code production runs, REST fallback) against a local server
// speaking the documented GA4 Data API v1beta runReport wire format.

const PROPERTY = '123456789';
const rowsFor = (days: number[]): Ga4Row[] =>
  days.flatMap((day) =>
    ['US', 'DE'].map((country) => ({
      date: `2026-03-${String(day).padStart(2, '0')}`,
      country,
      activeUsers: day * 10 + (country === 'US' ? 1 : 2),
      sessions: day * 20,
    })),
  );

let ga4: FakeGa4;
beforeEach(async () => {
  ga4 = await startFakeGa4(PROPERTY, rowsFor([6, 7, 8, 9, 10]));
});
afterEach(async () => {
  await ga4.close();
});

const config = (overrides: Record<string, unknown> = {}) => ({
  propertyId: PROPERTY,
  dimensions: ['country'],
  metrics: ['activeUsers', 'sessions'],
  initialDays: 5,
  lookbackDays: 2,
  pageSize: 4,
  apiEndpoint: ga4.url,
  retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 5_000 },
  ...overrides,
});
const credentials = { accessToken: GOOGLE_TOKEN };

const sync = syncRunner(ga4Connector, config, credentials);

describe('GA4 connector with @google-analytics/data against a local Data API v1beta server', () => {
  it('first sync reads the initial window page by page; each metric of each row is a metric event', async () => {
    const { result, sink } = await sync();
    expect(result).toMatchObject({ records: 20, pages: 3, cursor: { lastDate: '2026-03-10' } });
    expect(allRecords(sink.pages)[0]).toMatchObject({
      kind: 'metric',
      name: 'ga4.activeUsers',
      value: 62,
      timestamp: '2026-03-06T00:00:00.000Z',
      dimensions: { country: 'DE', ga4_property: PROPERTY },
    });
    const first = ga4.requests[0]!;
    expect(first.path).toBe(`/v1beta/properties/${PROPERTY}:runReport`);
    expect(first.query.get('$alt')).toMatch(/json/);
    expect(ga4.reports[0]!.body).toMatchObject({
      dimensions: [{ name: 'date' }, { name: 'country' }],
      dateRanges: [{ startDate: '2026-03-06', endDate: '2026-03-10' }],
    });
    expect(ga4.reports.map((report) => Number(report.body.offset ?? 0))).toEqual([0, 4, 8]);
  });

  it('incremental sync re-reads the lookback days; unchanged values keep their ids', async () => {
    const first = await sync();
    ga4.rows.push(...rowsFor([11, 12]));
    const second = await sync({ cursor: first.result.cursor, now: '2026-03-12T08:00:00Z' });
    expect(ga4.reports.at(-1)!.body.dateRanges).toEqual([{ startDate: '2026-03-09', endDate: '2026-03-12' }]);
    expect(second.result).toMatchObject({ records: 16, cursor: { lastDate: '2026-03-12' } });
    const firstIds = new Set(allRecords(first.sink.pages).map((record) => record.id));
    expect(allRecords(second.sink.pages).filter((record) => firstIds.has(record.id))).toHaveLength(8); // 9th and 10th again
  });

  it('resumes after a failure mid-sync from the last completely read date', async () => {
    const failing = memorySink({ failOnPublish: 2 });
    const error = (await sync({ sink: failing }).catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error.progress).toMatchObject({ pages: 1, records: 8, cursor: { lastDate: '2026-03-06' } });
    const resumed = await sync({ cursor: error.progress.cursor, overrides: { lookbackDays: 0 } });
    expect(ga4.reports.at(-1)!.body.dateRanges).toEqual([{ startDate: '2026-03-07', endDate: '2026-03-10' }]);
    const dates = new Set(
      [...allRecords(failing.pages), ...allRecords(resumed.sink.pages)].map((record) => record.timestamp.slice(0, 10)),
    );
    expect([...dates].sort()).toEqual(['2026-03-06', '2026-03-07', '2026-03-08', '2026-03-09', '2026-03-10']);
  });

  it.each([
    ['a refused token', { creds: { accessToken: 'ya29.expired' } }, /refused the credentials/],
    ['a property without access', { overrides: { propertyId: '999' } }, /denied access/],
    ['an unknown metric', { overrides: { metrics: ['bogusMetric'] } }, /rejected the report request/],
  ])('stops with a ConfigurationError on %s, without retrying', async (_name, options, message) => {
    const error = (await sync(options).catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error.cause).toBeInstanceOf(ConfigurationError);
    expect(String(error.cause)).toMatch(message);
    expect(ga4.requests).toHaveLength(1);
  });

  it.each([
    ['429 quota exhausted (gRPC RESOURCE_EXHAUSTED)', ga4QuotaExhausted()],
    [
      '503 (gRPC UNAVAILABLE)',
      {
        path: /:runReport$/,
        status: 503,
        body: googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.'),
      },
    ],
  ])('retries after %s and completes', async (_name, fault) => {
    ga4.fail(fault);
    const { result, context } = await sync();
    expect(result.records).toBe(20);
    expect(context.sleeps).toHaveLength(1);
    expect(ga4.requests).toHaveLength(4);
  });

  it('gives up on persistent 5xx after the policy attempts with a RetryableError', async () => {
    ga4.fail({
      path: /:runReport$/,
      status: 500,
      body: googleError(500, 'INTERNAL', 'Internal error encountered.'),
      times: 3,
    });
    const error = (await sync().catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error.cause).toBeInstanceOf(RetryableError);
    expect(ga4.requests).toHaveLength(3);
  });

  it('connection check runs a one-row report and says which step failed', async () => {
    const good = await checkConnector(ga4Connector, config(), credentials, testContext());
    expect(good.ok).toBe(true);
    expect(verdicts(good)).toEqual(['config:ok', 'authenticate:ok', 'permission:ok', 'check:ok']);
    expect(ga4.reports.at(-1)!.body).toMatchObject({
      dateRanges: [{ startDate: '2026-03-10', endDate: '2026-03-10' }],
    });
    expect(Number(ga4.reports.at(-1)!.body.limit)).toBe(1);

    const badToken = await checkConnector(ga4Connector, config(), { accessToken: 'nope' }, testContext());
    expect(verdicts(badToken)).toEqual(['config:ok', 'authenticate:failed']);
    const otherProperty = await checkConnector(ga4Connector, config({ propertyId: '999' }), credentials, testContext());
    expect(verdicts(otherProperty)).toEqual(['config:ok', 'authenticate:ok', 'permission:failed']);
    expect(otherProperty.steps.at(-1)!.message).toMatch(/sufficient permissions/);
    const unknownMetric = await checkConnector(
      ga4Connector,
      config({ metrics: ['activeUsers', 'bounceRateTypo'] }),
      credentials,
      testContext(),
    );
    expect(verdicts(unknownMetric)).toEqual(['config:ok', 'authenticate:ok', 'permission:ok', 'check:failed']);
    expect(unknownMetric.steps.at(-1)!.message).toMatch(/bounceRateTypo is not a valid dimension or metric/);
  });
});
