import { BlockedAddressError, ConfigurationError, RetryableError } from '@muxly/common';
import { customHttpConnector } from './connector.ts';
import { checkConnector, runSync, SyncFailedError } from '../sync.ts';
import { CUSTOM_TOKEN, OAUTH_CLIENT, startFakeCustomApi, type FakeCustomApi, type Item } from './custom.fake.ts';
import { allRecords, memorySink, testContext, verdicts } from '../toolkit/testing/test-context.ts';

const ITEMS: Item[] = [
  { id: 'a', updated_at: '2026-03-01T10:00:00Z', plan: 'pro', seats: 3 },
  { id: 'b', updated_at: '2026-03-02T10:00:00Z', plan: 'free', seats: 1 },
  { id: 'c', updated_at: '2026-03-03T10:00:00Z', plan: 'pro', seats: 9 },
  { id: 'd', updated_at: '2026-03-04T10:00:00Z', plan: 'team', seats: 4 },
  { id: 'e', updated_at: '2026-03-05T10:00:00Z', plan: 'pro', seats: 2 },
];

let api: FakeCustomApi;
beforeEach(async () => {
  api = await startFakeCustomApi(ITEMS.map((item) => ({ ...item })));
});
afterEach(async () => {
  await api.close();
});

const baseConfig = (overrides: Record<string, unknown> = {}) => ({
  stream: 'accounts',
  url: `${api.url}/v1/items?since={{cursor}}&limit=2`,
  auth: { type: 'bearer' },
  pagination: { type: 'cursor', nextPath: '$.meta.next' },
  recordSelector: '$.data[*]',
  cursorPath: '$.updated_at',
  startCursor: '2026-01-01T00:00:00Z',
  mapping: {
    kind: 'record',
    name: 'account.updated',
    idPath: '$.id',
    entityType: 'account',
    dimensions: { plan: '$.plan' },
  },
  retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 5_000 },
  ...overrides,
});
const credentials = { token: CUSTOM_TOKEN };

const sync = (
  config: unknown,
  cursor: { value: string } | null = null,
  creds: unknown = credentials,
  sink = memorySink(),
  context = testContext(),
) =>
  runSync({ connector: customHttpConnector, config, credentials: creds, cursor, sink, context }).then((result) => ({
    result,
    sink,
    context,
  }));

describe('custom HTTP connector against a local JSON API', () => {
  it('first sync reads every page and maps records', async () => {
    const { result, sink } = await sync(baseConfig());
    expect(result.records).toBe(5);
    expect(result.pages).toBe(3);
    expect(result.cursor).toEqual({ value: '2026-03-05T10:00:00Z' });
    const first = allRecords(sink.pages)[0]!;
    expect(first).toMatchObject({
      kind: 'record',
      name: 'account.updated',
      timestamp: '2026-03-01T10:00:00.000Z',
      dimensions: { plan: 'pro' },
      entity: { type: 'account', id: 'a' },
    });
    expect(api.requests[0]!.headers.authorization).toBe(`Bearer ${CUSTOM_TOKEN}`);
  });

  it('incremental sync starts at the cursor minus the lookback and repeats ids for re-read rows', async () => {
    const first = await sync(baseConfig());
    api.items.push({ id: 'f', updated_at: '2026-03-06T10:00:00Z', plan: 'pro', seats: 1 });
    const second = await sync(baseConfig({ lookbackSeconds: 86_400 }), first.result.cursor as { value: string });
    expect(api.requests.at(-2)!.query.get('since')).toBe('2026-03-04T10:00:00.000Z');
    const ids = allRecords(second.sink.pages).map((record) => record.id);
    expect(ids).toHaveLength(3); // d and e again (lookback), f new
    const firstIds = new Set(allRecords(first.sink.pages).map((record) => record.id));
    expect(ids.filter((id) => firstIds.has(id))).toHaveLength(2);
    expect(second.result.cursor).toEqual({ value: '2026-03-06T10:00:00Z' });
  });

  it.each([
    ['cursor', `/v1/items?since={{cursor}}&limit=2`, { type: 'cursor', nextPath: '$.meta.next' }, '$.data[*]'],
    ['offset', `/v1/items-offset?since={{cursor}}`, { type: 'offset', limit: 2 }, '$.results[*]'],
    [
      'page number',
      `/v1/items-page?since={{cursor}}`,
      { type: 'page', sizeParam: 'per_page', size: 2 },
      '$.results[*]',
    ],
    ['Link header', `/v1/items-link?since={{cursor}}`, { type: 'link' }, '$[*]'],
  ])('paginates by %s', async (_style, path, pagination, recordSelector) => {
    const { result } = await sync(baseConfig({ url: `${api.url}${path}`, pagination, recordSelector }));
    expect(result.records).toBe(5);
  });

  it.each([
    ['API key in query', { type: 'apiKey', in: 'query', name: 'api_key' }, { apiKey: CUSTOM_TOKEN }],
    [
      'OAuth2 client credentials',
      { type: 'oauth2ClientCredentials', tokenUrl: 'TOKEN_URL', clientId: OAUTH_CLIENT.id },
      { clientSecret: OAUTH_CLIENT.secret },
    ],
  ])('authenticates with %s', async (_name, auth, creds) => {
    const resolved = {
      ...auth,
      ...(auth.type === 'oauth2ClientCredentials' ? { tokenUrl: `${api.url}/oauth/token` } : {}),
    };
    const { result } = await sync(baseConfig({ auth: resolved }), null, creds);
    expect(result.records).toBe(5);
  });

  it('resumes after a failure mid-sync from the last published page', async () => {
    const failing = memorySink({ failOnPublish: 2 });
    const error = await sync(baseConfig(), null, credentials, failing).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SyncFailedError);
    const progress = (error as SyncFailedError).progress;
    expect(progress).toMatchObject({ pages: 1, records: 2, cursor: { value: '2026-03-02T10:00:00Z' } });
    const resumed = await sync(baseConfig(), progress.cursor as { value: string });
    const seen = new Set(
      [...allRecords(failing.pages), ...allRecords(resumed.sink.pages)].map((record) => record.entity?.id),
    );
    expect([...seen].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('holds the cursor until the last page when answers are not sorted by the cursor field', async () => {
    const failing = memorySink({ failOnPublish: 2 });
    const error = (await sync(baseConfig({ sortedByCursor: false }), null, credentials, failing).catch(
      (caught: unknown) => caught,
    )) as SyncFailedError;
    expect(error.progress).toMatchObject({ pages: 1, records: 2, cursor: null });
    const { result } = await sync(baseConfig({ sortedByCursor: false }));
    expect(result.cursor).toEqual({ value: '2026-03-05T10:00:00Z' });
  });

  it('stops with a ConfigurationError when the API refuses the credentials', async () => {
    const error = await sync(baseConfig(), null, { token: 'wrong' }).catch((caught: unknown) => caught);
    expect((error as SyncFailedError).cause).toBeInstanceOf(ConfigurationError);
    expect(api.requests).toHaveLength(1); // no retry of an auth failure
  });

  it('waits as Retry-After says on 429, then succeeds', async () => {
    api.fail({ status: 429, headers: { 'retry-after': '2' }, body: { error: 'slow down' } });
    const { result, context } = await sync(baseConfig());
    expect(result.records).toBe(5);
    expect(context.sleeps).toEqual([2000]);
  });

  it('retries 5xx with backoff and gives up after the policy', async () => {
    api.fail({ status: 503, body: { error: 'unavailable' } });
    const { result, context } = await sync(baseConfig());
    expect(result.records).toBe(5);
    expect(context.sleeps).toHaveLength(1);

    api.fail({ status: 500, body: { error: 'boom' }, times: 3 });
    const error = await sync(baseConfig()).catch((caught: unknown) => caught);
    expect((error as SyncFailedError).cause).toBeInstanceOf(RetryableError);
  });

  it('refuses loopback when the allow-list does not name it', async () => {
    const error = await sync(
      baseConfig(),
      null,
      credentials,
      memorySink(),
      testContext({ allowLoopback: false }),
    ).catch((caught: unknown) => caught);
    expect((error as SyncFailedError).cause).toBeInstanceOf(BlockedAddressError);
    expect(api.requests).toHaveLength(0);
  });

  it('connection check reports each step, and a bad config as a failed first step', async () => {
    const good = await checkConnector(customHttpConnector, baseConfig(), credentials, testContext());
    expect(good).toMatchObject({ ok: true });
    expect(verdicts(good)).toEqual(['config:ok', 'authenticate:ok', 'permission:ok', 'check:ok']);
    expect(good.steps.at(-1)!.message).toMatch(/found 2 records/);
    // One request: the check reads the first page only.
    expect(api.requests).toHaveLength(1);

    const bad = await checkConnector(customHttpConnector, { ...baseConfig(), surprise: 1 }, credentials, testContext());
    expect(verdicts(bad)).toEqual(['config:failed']);
    expect(bad.steps[0]!.message).toMatch(/invalid custom connector config/);
    const denied = await checkConnector(customHttpConnector, baseConfig(), { token: 'nope' }, testContext());
    expect(verdicts(denied)).toEqual(['config:ok', 'authenticate:failed']);
    expect(denied.steps.at(-1)!.message).toMatch(/refused the credentials \(HTTP 401\)/);
    const forbidden = await checkConnector(
      customHttpConnector,
      baseConfig({ url: `${api.url}/v1/admin/items` }),
      credentials,
      testContext(),
    );
    expect(verdicts(forbidden)).toEqual(['config:ok', 'authenticate:ok', 'permission:failed']);
    expect(forbidden.steps.at(-1)!.message).toMatch(/denied access \(HTTP 403\)/);
    const blocked = await checkConnector(
      customHttpConnector,
      baseConfig(),
      credentials,
      testContext({ allowLoopback: false }),
    );
    expect(verdicts(blocked)).toEqual(['config:ok', 'connect:failed']);
    expect(blocked.steps.at(-1)!.message).toMatch(/refused: private, loopback/);
  });

  it('connection check with OAuth2 client credentials proves the token endpoint first', async () => {
    const oauth = baseConfig({
      auth: { type: 'oauth2ClientCredentials', tokenUrl: `${api.url}/oauth/token`, clientId: OAUTH_CLIENT.id },
    });
    const good = await checkConnector(customHttpConnector, oauth, { clientSecret: OAUTH_CLIENT.secret }, testContext());
    expect(verdicts(good)).toEqual(['config:ok', 'authenticate:ok', 'permission:ok', 'check:ok']);
    expect(good.steps[1]!.message).toMatch(/token endpoint 127\.0\.0\.1:\d+ issued an access token/);
    const wrongSecret = await checkConnector(customHttpConnector, oauth, { clientSecret: 'wrong' }, testContext());
    expect(verdicts(wrongSecret)).toEqual(['config:ok', 'authenticate:failed']);
    expect(wrongSecret.steps.at(-1)!.message).toMatch(/OAuth2 token request refused \(HTTP 401\)/);
  });
});
