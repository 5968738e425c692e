import { ConfigurationError, RetryableError } from '@muxly/common';
import { hubspotConnector } from './connector.ts';
import { checkConnector, SyncFailedError } from '../sync.ts';
import {
  contact,
  HUBSPOT_TOKEN,
  HUBSPOT_TOKEN_WITHOUT_SCOPES,
  hubspotError,
  hubspotRateLimited,
  startFakeHubSpot,
  type FakeHubSpot,
} from './hubspot.fake.ts';
import { allRecords, memorySink, syncRunner, testContext, verdicts } from '../toolkit/testing/test-context.ts';

// @hubspot/api-client (the code production runs) against a local server speaking HubSpot's
// documented CRM v3 search wire format.

let hubspot: FakeHubSpot;
beforeEach(async () => {
  hubspot = await startFakeHubSpot({
    contacts: [1, 2, 3, 4, 5].map((n) => contact(n, `2026-03-0${n}T10:00:00.000Z`, `user${n}@example.com`)),
    companies: [
      {
        id: '900',
        properties: {
          hs_object_id: '900',
          name: 'Acme',
          hs_lastmodifieddate: '2026-03-02T00:00:00.000Z',
          industry: 'SOFTWARE',
        },
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-03-02T00:00:00.000Z',
        archived: false,
      },
    ],
  });
});
afterEach(async () => {
  await hubspot.close();
});

const config = (overrides: Record<string, unknown> = {}) => ({
  objectType: 'contacts',
  properties: ['email', 'lifecyclestage'],
  dimensions: ['lifecyclestage'],
  pageSize: 2,
  lookbackSeconds: 3600,
  apiBaseUrl: hubspot.url,
  retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 5_000 },
  ...overrides,
});
const credentials = { accessToken: HUBSPOT_TOKEN };

const sync = syncRunner(hubspotConnector, config, credentials);

describe('HubSpot connector with @hubspot/api-client against a local CRM v3 search server', () => {
  it('first sync pages through all contacts, sorted ascending by lastmodifieddate', async () => {
    const { result, sink } = await sync();
    expect(result).toMatchObject({ records: 5, pages: 3, cursor: { lastModified: '2026-03-05T10:00:00.000Z' } });
    const [first] = allRecords(sink.pages);
    expect(first).toMatchObject({
      kind: 'record',
      name: 'hubspot.contacts.updated',
      timestamp: '2026-03-01T10:00:00.000Z',
      entity: { type: 'contacts', id: '1' },
      dimensions: { lifecyclestage: 'lead' },
    });
    expect(hubspot.searches[0]!.body).toMatchObject({
      filterGroups: [
        {
          filters: [
            { propertyName: 'lastmodifieddate', operator: 'GTE', value: String(Date.parse('1970-01-01T00:00:00Z')) },
          ],
        },
      ],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      limit: 2,
    });
    expect(hubspot.searches.map((search) => search.body.after)).toEqual([undefined, '2', '4']);
    expect(hubspot.requests[0]!.headers.authorization).toBe(`Bearer ${HUBSPOT_TOKEN}`);
  });

  it('incremental sync starts at the cursor minus the lookback; re-read versions keep their ids', async () => {
    const first = await sync();
    hubspot.objects.contacts!.push(contact(6, '2026-03-06T10:00:00.000Z', 'user6@example.com'));
    const second = await sync({ cursor: first.result.cursor as { lastModified: string } });
    expect(hubspot.searches.at(-1)?.body.filterGroups?.[0]?.filters[0]?.value).toBe(
      String(Date.parse('2026-03-05T09:00:00.000Z')),
    );
    const ids = allRecords(second.sink.pages).map((record) => record.id);
    expect(ids).toHaveLength(2); // contact 5 again (lookback) and contact 6
    expect(allRecords(first.sink.pages).map((record) => record.id)).toContain(ids[0]);
    expect(second.result.cursor).toEqual({ lastModified: '2026-03-06T10:00:00.000Z' });
  });

  it('uses hs_lastmodifieddate for other object types', async () => {
    const { result } = await sync({
      overrides: { objectType: 'companies', properties: ['name'], dimensions: ['industry'] },
    });
    expect(result.records).toBe(1);
    expect(hubspot.searches[0]!.body.sorts).toEqual([{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' }]);
  });

  it('restarts the search from the latest timestamp at the 10,000-result paging limit', async () => {
    const base = Date.parse('2026-01-01T00:00:00Z');
    hubspot.objects.contacts = Array.from({ length: 10_050 }, (_, n) =>
      contact(n + 1, new Date(base + n * 1000).toISOString(), `u${n}@example.com`),
    );
    const { result } = await sync({ overrides: { pageSize: 200, properties: [], dimensions: [] } });
    // 50 pages to the limit, then a new search from the 10,000th timestamp (it is read twice).
    expect(result.records).toBe(10_051);
    const restart = hubspot.searches.find((search, index) => index > 0 && search.body.after === undefined);
    expect(restart?.body.filterGroups?.[0]?.filters[0]?.value).toBe(String(base + 9_999 * 1000));
    expect(hubspot.searches.every((search) => Number(search.body.after ?? 0) < 10_000)).toBe(true);
  });

  it('resumes after a failure mid-sync from the last published page', async () => {
    const failing = memorySink({ failOnPublish: 2 });
    const error = (await sync({ sink: failing }).catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error).toBeInstanceOf(SyncFailedError);
    expect(error.progress).toMatchObject({
      pages: 1,
      records: 2,
      cursor: { lastModified: '2026-03-02T10:00:00.000Z' },
    });
    const resumed = await sync({
      cursor: error.progress.cursor as { lastModified: string },
      overrides: { lookbackSeconds: 0 },
    });
    const entities = [...allRecords(failing.pages), ...allRecords(resumed.sink.pages)].map(
      (record) => record.entity?.id,
    );
    expect(new Set(entities)).toEqual(new Set(['1', '2', '3', '4', '5']));
  });

  it('stops with a ConfigurationError on a bad token, without retrying', async () => {
    const error = (await sync({ creds: { accessToken: 'pat-wrong' } }).catch(
      (caught: unknown) => caught,
    )) as SyncFailedError;
    expect(error.cause).toBeInstanceOf(ConfigurationError);
    expect(String(error.cause)).toMatch(/INVALID_AUTHENTICATION/);
    expect(hubspot.requests).toHaveLength(1);
  });

  it.each([
    ['429 with Retry-After', hubspotRateLimited(3), [3000]],
    ['429 without Retry-After (policy backoff)', hubspotRateLimited(), [expect.any(Number)]],
    [
      '502',
      { path: /search$/, status: 502, body: hubspotError('INTERNAL_ERROR', 'Bad gateway') },
      [expect.any(Number)],
    ],
  ])('retries after %s and completes', async (_name, fault, sleeps) => {
    hubspot.fail(fault);
    const { result, context } = await sync();
    expect(result.records).toBe(5);
    expect(context.sleeps).toEqual(sleeps);
    expect(hubspot.requests).toHaveLength(4);
  });

  it('gives up on persistent 5xx after the policy attempts with a RetryableError', async () => {
    hubspot.fail({ path: /search$/, status: 503, body: hubspotError('INTERNAL_ERROR', 'unavailable'), times: 3 });
    const error = (await sync().catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error.cause).toBeInstanceOf(RetryableError);
    expect(error.progress.records).toBe(0);
  });

  it('connection check passes with a good token and says which step failed otherwise', async () => {
    const good = await checkConnector(hubspotConnector, config(), credentials, testContext());
    expect(good.ok).toBe(true);
    expect(verdicts(good)).toEqual(['config:ok', 'authenticate:ok', 'permission:ok', 'check:ok']);
    expect(good.steps.at(-1)!.message).toBe('5 objects visible');
    expect(hubspot.searches.at(-1)!.body).toMatchObject({ limit: 1 });

    const bad = await checkConnector(hubspotConnector, config(), { accessToken: 'nope' }, testContext());
    expect(verdicts(bad)).toEqual(['config:ok', 'authenticate:failed']);
    expect(bad.steps.at(-1)!.message).toMatch(/refused the access token/);
    const unscoped = await checkConnector(
      hubspotConnector,
      config(),
      { accessToken: HUBSPOT_TOKEN_WITHOUT_SCOPES },
      testContext(),
    );
    expect(verdicts(unscoped)).toEqual(['config:ok', 'authenticate:ok', 'permission:failed']);
    expect(unscoped.steps.at(-1)!.message).toMatch(/403 MISSING_SCOPES/);
    const unknownType = await checkConnector(
      hubspotConnector,
      config({ objectType: 'p_widgets' }),
      credentials,
      testContext(),
    );
    expect(verdicts(unknownType)).toEqual(['config:ok', 'authenticate:ok', 'permission:ok', 'check:failed']);
    expect(unknownType.steps.at(-1)!.message).toMatch(/Unable to infer object type from: p_widgets/);
  });
});
