import { ConfigurationError } from '@muxly/common';
import { reconcilePipeline } from '../src/seed/reconcile.ts';
import { startHarness, type Harness } from './harness.ts';

// Routes in the settings file's `pipeline` are seeded like destinations and rules: created or
// brought up to date at start, with the API's validation, and published for the router.

const pipeline = {
  destinations: [{ id: 'routes-file', type: 'file', config: { path: 'routes-seed.jsonl' } }],
  rules: [{ id: 'routes-rule', destinationIds: ['routes-file'] }],
  routes: [
    {
      id: 'api-route',
      name: 'From the API',
      connectorId: null,
      ruleIds: ['routes-rule'],
      errorHandling: { onFailure: 'continue' },
    },
  ],
};

describe('seeded routes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ pipeline });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates the listed routes at start, then leaves them unchanged', async () => {
    const response = await h.api('GET', '/api/v1/routes/api-route');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      id: 'api-route',
      name: 'From the API',
      connectorId: null,
      ruleIds: ['routes-rule'],
      enabled: true,
      errorHandling: { onFailure: 'continue' },
    });
    expect(await reconcilePipeline(h.service.context, h.settings.pipeline)).toMatchObject({
      created: 0,
      updated: 0,
      unchanged: 3,
    });
  });

  it('brings a route changed through the API back to the file, once', async () => {
    const current = await h.api('GET', '/api/v1/routes/api-route');
    const changed = await h.api(
      'PATCH',
      '/api/v1/routes/api-route',
      { errorHandling: { onFailure: 'stop' } },
      { 'if-match': current.headers.get('etag')! },
    );
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ errorHandling: { onFailure: 'stop' } });
    expect(await reconcilePipeline(h.service.context, h.settings.pipeline)).toMatchObject({ updated: 1, unchanged: 2 });
    expect((await h.api('GET', '/api/v1/routes/api-route')).body).toMatchObject({
      errorHandling: { onFailure: 'continue' },
    });
  });

  it('refuses a route naming a rule that does not exist, by its place', async () => {
    const bad = {
      ...h.settings.pipeline,
      routes: [
        {
          id: 'ghost-route',
          connectorId: null,
          ruleIds: ['ghost'],
          enabled: true,
          errorHandling: { onFailure: 'dead-letter' as const },
        },
      ],
    };
    await expect(reconcilePipeline(h.service.context, bad)).rejects.toThrow(ConfigurationError);
    await expect(reconcilePipeline(h.service.context, bad)).rejects.toThrow(
      /pipeline\.routes\[0\]: .*routing rule "ghost" does not exist/,
    );
  });
});
