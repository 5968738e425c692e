import pg from 'pg';
import { expectProblem, startHarness, type Harness } from './harness.ts';

describe('connectors and destinations API', () => {
  let h: Harness;
  beforeAll(async () => {
    // Loopback is allowed for connectors, so the connection test reaches the local endpoints.
    h = await startHarness({ settings: { outbound: { allowAddresses: ['127.0.0.0/8'] } } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates a destination from only the required fields, with defaults and write-only credentials', async () => {
    const created = await h.api('POST', '/api/v1/destinations', {
      name: 'Orders hook',
      type: 'webhook',
      config: { url: 'http://127.0.0.1:9/hook' },
      credentials: { signingSecret: 'super-secret-value' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Orders hook',
      type: 'webhook',
      enabled: true,
      config: { url: 'http://127.0.0.1:9/hook', timeoutMs: 5000 },
      credentialsSet: true,
      version: 1,
    });
    expect(created.body.id).toMatch(/^dst_[0-9a-f]{16}$/);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('location')).toBe(`/api/v1/destinations/${created.body.id}`);
    expect(JSON.stringify(created.body)).not.toContain('super-secret-value');

    const read = await h.api('GET', `/api/v1/destinations/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.body)).not.toContain('super-secret-value');

    // At rest: the column holds only the encrypted envelope under the configured key.
    const client = new pg.Client({ connectionString: h.database.url });
    await client.connect();
    try {
      const { rows } = await client.query('select credentials from destinations where id = $1', [created.body.id]);
      expect(JSON.stringify(rows[0].credentials)).not.toContain('super-secret-value');
      expect(rows[0].credentials.$encrypted).toMatch(/^v1:test-1:/);
    } finally {
      await client.end();
    }
  });

  it('rejects invalid configs with every field named, and unknown types', async () => {
    const missing = expectProblem(
      await h.api('POST', '/api/v1/destinations', {
        name: 'bad',
        type: 'webhook',
        config: { url: 'ftp://x', extra: 1 },
      }),
      422,
    );
    expect(missing.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/config/extra', detail: 'is not a known field' },
        { pointer: '/credentials/signingSecret', detail: 'is required' },
        expect.objectContaining({ pointer: '/config/url' }),
      ]),
    );
    const secretInConfig = expectProblem(
      await h.api('POST', '/api/v1/destinations', {
        name: 'bad2',
        type: 'webhook',
        config: { url: 'http://x', signingSecret: 'abcdefghij' },
      }),
      422,
    );
    expect(secretInConfig.errors[0]).toEqual({
      pointer: '/config/signingSecret',
      detail: expect.stringContaining('send it in credentials'),
    });
    const unknown = expectProblem(await h.api('POST', '/api/v1/destinations', { name: 'bad3', type: 'nope' }), 422);
    expect(unknown.detail).toContain('known types: webhook, file');
    const malformed = expectProblem(await h.api('POST', '/api/v1/destinations', '{"name":'), 400);
    expect(malformed.detail).toContain('not valid JSON');
    const schema = expectProblem(
      await h.api('POST', '/api/v1/destinations', { name: 'x', type: 'file', color: 'red' }),
      400,
    );
    expect(schema.errors.length).toBeGreaterThan(0);
  });

  it('updates with If-Match only, and refuses stale or missing versions', async () => {
    const created = await h.api('POST', '/api/v1/destinations', {
      id: 'file-a',
      name: 'File A',
      type: 'file',
      config: { path: 'a.jsonl' },
    });
    expect(created.status).toBe(201);
    expectProblem(await h.api('PATCH', '/api/v1/destinations/file-a', { enabled: false }), 428);
    expectProblem(await h.api('PATCH', '/api/v1/destinations/file-a', { enabled: false }, { 'if-match': '"7"' }), 412);
    const updated = await h.api(
      'PATCH',
      '/api/v1/destinations/file-a',
      { enabled: false, config: { path: 'b.jsonl', format: 'csv' } },
      { 'if-match': '"1"' },
    );
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ enabled: false, config: { path: 'b.jsonl', format: 'csv' }, version: 2 });
    expect(updated.headers.get('etag')).toBe('"2"');
    expectProblem(await h.api('PATCH', '/api/v1/destinations/file-a', { enabled: true }, { 'if-match': '"1"' }), 412);
    expectProblem(
      await h.api('PATCH', '/api/v1/destinations/file-a', { credentials: { token: 'x' } }, { 'if-match': '"2"' }),
      422,
    );
    expectProblem(await h.api('PATCH', '/api/v1/destinations/missing', { enabled: true }, { 'if-match': '"1"' }), 404);
    expectProblem(
      await h.api('POST', '/api/v1/destinations', {
        id: 'file-a',
        name: 'Another',
        type: 'file',
        config: { path: 'x' },
      }),
      409,
    );
    expectProblem(
      await h.api('POST', '/api/v1/destinations', { name: 'File A', type: 'file', config: { path: 'x' } }),
      409,
    );
  });

  it('lets exactly one of several concurrent updates of one version win', async () => {
    const created = await h.api('POST', '/api/v1/destinations', {
      id: 'race',
      name: 'Race',
      type: 'file',
      config: { path: 'race' },
    });
    const etag = created.headers.get('etag')!;
    const answers = await Promise.all(
      ['one', 'two', 'three'].map((path) =>
        h.api('PATCH', '/api/v1/destinations/race', { config: { path } }, { 'if-match': etag }),
      ),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 412, 412]);
    for (const answer of answers.filter((a) => a.status === 412)) expectProblem(answer, 412);
    const winner = answers.find((answer) => answer.status === 200)!;
    expect((await h.api('GET', '/api/v1/destinations/race')).body).toMatchObject({
      version: 2,
      config: winner.body.config,
    });
  });

  it('refuses bodies over 1 MB', async () => {
    const big = { name: 'big', type: 'file', config: { path: 'x'.repeat(1_100_000) } };
    expectProblem(await h.api('POST', '/api/v1/destinations', big), 413);
  });

  it('replaces and clears credentials without ever returning them', async () => {
    const created = await h.api('POST', '/api/v1/connectors', {
      id: 'api-1',
      name: 'API one',
      type: 'custom',
      config: { baseUrl: 'http://127.0.0.1:1' },
      credentials: { token: 'good' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      credentialsSet: true,
      config: { baseUrl: 'http://127.0.0.1:1', pageSize: 100 },
    });
    const cleared = await h.api(
      'PATCH',
      '/api/v1/connectors/api-1',
      { credentials: null },
      { 'if-match': created.headers.get('etag')! },
    );
    expect(cleared.body.credentialsSet).toBe(false);
    expectProblem(
      await h.api(
        'PATCH',
        '/api/v1/connectors/api-1',
        { credentials: { token: '' } },
        { 'if-match': cleared.headers.get('etag')! },
      ),
      422,
    );
    const state = await h.api('GET', '/api/v1/connectors/api-1/state');
    expect(state.body).toEqual({ connectorId: 'api-1', state: null });
  });

  it('lists with filters, sorting and cursor pagination', async () => {
    for (const name of ['p-c', 'p-a', 'p-e', 'p-b', 'p-d']) {
      expect((await h.api('POST', '/api/v1/destinations', { name, type: 'file', config: { path: name } })).status).toBe(
        201,
      );
    }
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?type=file&nameContains=p-&limit=2&sort=-name${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await h.api('GET', `/api/v1/destinations${query}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      names.push(...page.body.items.map((item: { name: string }) => item.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(names).toEqual(['p-e', 'p-d', 'p-c', 'p-b', 'p-a']);
    const disabled = await h.api('GET', '/api/v1/destinations?enabled=false');
    expect(disabled.body.items.map((item: { id: string }) => item.id)).toEqual(['file-a']);
    const first = await h.api('GET', '/api/v1/destinations?limit=1&sort=name');
    expectProblem(await h.api('GET', `/api/v1/destinations?sort=createdAt&cursor=${first.body.nextCursor}`), 400);
    expectProblem(await h.api('GET', '/api/v1/destinations?cursor=garbage'), 400);
    expectProblem(await h.api('GET', '/api/v1/destinations?limit=0'), 400);
    expectProblem(await h.api('GET', '/api/v1/destinations?color=blue'), 400);
  });

  it('tests connections step by step', async () => {
    const test = await h.api('POST', '/api/v1/connectors/api-1/test');
    expect(test.status).toBe(200);
    // 127.0.0.1:1 resolves but refuses the connection; the type's own check is then skipped.
    expect(test.body.ok).toBe(false);
    expect(test.body.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'config:ok',
      'resolve:ok',
      'connect:failed',
      'authenticate:skipped',
      'permission:skipped',
      'check:skipped',
    ]);

    const reachable = await h.api('POST', '/api/v1/connectors', {
      id: 'api-2',
      name: 'API two',
      type: 'custom',
      config: { baseUrl: h.baseUrl },
      credentials: { token: 'good' },
    });
    expect(reachable.status).toBe(201);
    const good = await h.api('POST', '/api/v1/connectors/api-2/test');
    expect(good.body).toMatchObject({ ok: true });
    // The test type's check proves only authenticate; what it does not test is skipped, with the reason.
    expect(good.body.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'config:ok',
      'resolve:ok',
      'connect:ok',
      'authenticate:ok',
      'permission:skipped',
      'check:skipped',
    ]);
    expect(good.body.steps[4].detail).toBe('not tested by the custom check');
    const file = await h.api('POST', '/api/v1/destinations/file-a/test');
    expect(file.body.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'config:ok',
      'resolve:skipped',
      'connect:skipped',
      'authenticate:skipped',
      'permission:skipped',
      'check:skipped',
    ]);
    expect(file.body.steps[5].detail).toBe('the file type has no check of its own');
    expectProblem(await h.api('POST', '/api/v1/destinations/nope/test'), 404);
  });

  it('deletes, honouring If-Match, and answers 404 afterwards', async () => {
    expectProblem(await h.api('DELETE', '/api/v1/connectors/api-1', undefined, { 'if-match': '"99"' }), 412);
    expect((await h.api('DELETE', '/api/v1/connectors/api-1')).status).toBe(204);
    expectProblem(await h.api('GET', '/api/v1/connectors/api-1'), 404);
    expectProblem(await h.api('DELETE', '/api/v1/connectors/api-1'), 404);
    expectProblem(await h.api('GET', '/api/v1/nothing-here'), 404);
  });
});
