import { expectProblem, startHarness, type Harness } from './harness.ts';

describe('routing rules and routes API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const id of ['d1', 'd2']) {
      expect(
        (await h.api('POST', '/api/v1/destinations', { id, name: id, type: 'file', config: { path: id } })).status,
      ).toBe(201);
    }
    expect(
      (
        await h.api('POST', '/api/v1/connectors', {
          id: 'c1',
          name: 'c1',
          type: 'custom',
          config: { baseUrl: 'http://127.0.0.1:1' },
        })
      ).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await h?.close();
  });

  const signups = {
    id: 'signups',
    name: 'Signups to files',
    priority: 10,
    condition: {
      all: [
        { path: '$.name', op: 'eq', value: 'signup' },
        { not: { path: '$.dimensions.env', op: 'in', value: ['dev', 'test'] } },
      ],
    },
    transformations: [{ type: 'rename', from: '$.dimensions.plan', to: '$.dimensions.tier' }],
    destinationIds: ['d1', 'd2'],
  };

  it('creates a rule with its transformations and destinations', async () => {
    const created = await h.api('POST', '/api/v1/routing-rules', signups);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...signups, enabled: true, stopOnMatch: false, version: 1 });
    const read = await h.api('GET', '/api/v1/routing-rules/signups');
    expect(read.body).toEqual(created.body);
    const minimal = await h.api('POST', '/api/v1/routing-rules', { name: 'everything', destinationIds: ['d2'] });
    expect(minimal.body).toMatchObject({ condition: null, transformations: [], priority: 100 });
  });

  it('refuses rules that do not compile or name missing destinations', async () => {
    const bad = expectProblem(
      await h.api('POST', '/api/v1/routing-rules', {
        name: 'bad',
        condition: { path: '$.name', op: 'eqq', value: 1 },
        destinationIds: ['d1'],
      }),
      422,
    );
    expect(bad.errors[0].pointer).toBe('/condition/op');
    const missing = expectProblem(
      await h.api('POST', '/api/v1/routing-rules', { name: 'bad2', destinationIds: ['d1', 'ghost'] }),
      422,
    );
    expect(missing.errors).toEqual([{ pointer: '/destinationIds/1', detail: 'destination "ghost" does not exist' }]);
    expectProblem(await h.api('POST', '/api/v1/routing-rules', { name: 'bad3', destinationIds: [] }), 400);
  });

  it('updates children and bumps the version', async () => {
    const updated = await h.api(
      'PATCH',
      '/api/v1/routing-rules/signups',
      { destinationIds: ['d2'], transformations: [] },
      { 'if-match': '"1"' },
    );
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      destinationIds: ['d2'],
      transformations: [],
      version: 2,
      condition: signups.condition,
    });
    expectProblem(
      await h.api('PATCH', '/api/v1/routing-rules/signups', { destinationIds: ['ghost'] }, { 'if-match': '"2"' }),
      422,
    );
    expectProblem(
      await h.api(
        'PATCH',
        '/api/v1/routing-rules/signups',
        { transformations: [{ type: 'explode' }] },
        { 'if-match': '"2"' },
      ),
      422,
    );
    const filtered = await h.api('GET', '/api/v1/routing-rules?destinationId=d1');
    expect(filtered.body.items).toEqual([]);
    const all = await h.api('GET', '/api/v1/routing-rules?sort=priority');
    expect(all.body.items.map((r: { id: string }) => r.id)[0]).toBe('signups');
  });

  it('refuses to delete a destination a rule uses, naming the rule', async () => {
    const inUse = expectProblem(await h.api('DELETE', '/api/v1/destinations/d2'), 409);
    expect(inUse.detail).toContain('rule "signups"');
    expect(inUse.usedBy).toEqual(expect.arrayContaining([{ kind: 'rule', id: 'signups' }]));
    expect((await h.api('DELETE', '/api/v1/destinations/d1')).status).toBe(204);
  });

  it('manages routes with checked references', async () => {
    const created = await h.api('POST', '/api/v1/routes', {
      id: 'r1',
      name: 'From c1',
      connectorId: 'c1',
      ruleIds: ['signups'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      connectorId: 'c1',
      ruleIds: ['signups'],
      enabled: true,
      errorHandling: { onFailure: 'dead-letter' },
    });
    const read = await h.api('GET', '/api/v1/routes/r1');
    expect(read.body).toEqual(created.body);
    expect(read.headers.get('etag')).toBe('"1"');
    expectProblem(await h.api('GET', '/api/v1/routes/ghost'), 404);
    const api = await h.api('POST', '/api/v1/routes', {
      name: 'From the API',
      ruleIds: ['signups'],
      errorHandling: { onFailure: 'stop' },
    });
    expect(api.body.connectorId).toBeNull();
    const missing = expectProblem(
      await h.api('POST', '/api/v1/routes', { name: 'bad', connectorId: 'ghost', ruleIds: ['nope'] }),
      422,
    );
    expect(missing.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/connectorId', '/ruleIds/0']);
    expect(
      (await h.api('GET', '/api/v1/routes?connectorId=api')).body.items.map((r: { name: string }) => r.name),
    ).toEqual(['From the API']);
    expect((await h.api('GET', '/api/v1/routes?connectorId=c1')).body.items.map((r: { id: string }) => r.id)).toEqual([
      'r1',
    ]);

    const conflictRule = expectProblem(await h.api('DELETE', '/api/v1/routing-rules/signups'), 409);
    expect(conflictRule.usedBy).toEqual(expect.arrayContaining([{ kind: 'route', id: 'r1' }]));
    const connectorInUse = expectProblem(await h.api('DELETE', '/api/v1/connectors/c1'), 409);
    expect(connectorInUse.detail).toContain('route "r1"');

    const patched = await h.api(
      'PATCH',
      '/api/v1/routes/r1',
      { connectorId: null, enabled: false },
      { 'if-match': '"1"' },
    );
    expect(patched.body).toMatchObject({ connectorId: null, enabled: false, ruleIds: ['signups'], version: 2 });
    expect((await h.api('DELETE', '/api/v1/routes/r1', undefined, { 'if-match': '"2"' })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/routes/${api.body.id}`)).status).toBe(204);
    expect((await h.api('DELETE', '/api/v1/routing-rules/signups')).status).toBe(204);
    expectProblem(await h.api('GET', '/api/v1/routing-rules/signups'), 404);
  });
});
