import { createLogger } from '@muxly/common';
import type { Principal } from '../src/auth/principal.ts';
import { loadTemplates } from '../src/templates/sources.ts';
import { expectProblem, startHarness, type Harness } from './harness.ts';

// POST /api/v1/templates/{id}/instantiate with the real templates and examples: the parts are
// created like their own creates, in one transaction, and published like them.

const logger = createLogger({ service: 'test', silent: true });
const count = async (h: Harness, path: string) =>
  ((await h.api('GET', path)).body as { items: unknown[] }).items.length;

describe('instantiating template examples', () => {
  let h: Harness;
  // A principal with the permissions the test gives it, as the authentication layer would set it.
  let permissions = new Set<string>();
  beforeAll(async () => {
    h = await startHarness({
      templates: await loadTemplates(logger),
      authorize: (_request, response) => {
        response.locals.principal = {
          kind: 'user',
          id: 'usr_test',
          name: 'tester',
          roles: [],
          permissions,
        } satisfies Principal;
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    permissions = new Set(['templates:read', 'templates:instantiate', 'destinations:write', 'connectors:write']);
    for (const p of [
      'routing-rules:write',
      'jobs:write',
      'destinations:read',
      'connectors:read',
      'routing-rules:read',
      'jobs:read',
    ])
      permissions.add(p);
  });

  it('lists the examples with each template', async () => {
    const answer = await h.api('GET', '/api/v1/templates/destination/slack');
    expect(answer.status).toBe(200);
    expect(answer.body.examples.map((example: { id: string }) => example.id)).toContain('slack-error-threshold-alert');
  });

  it('creates a destination and the rule that feeds it', async () => {
    const answer = await h.api('POST', '/api/v1/templates/slack-error-threshold-alert/instantiate', {
      id: 'alerts',
      name: 'Error alerts',
      config: { channel: '#alerts' },
      credentials: { token: 'xoxb-test-token' },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.destination).toMatchObject({ id: 'alerts', type: 'slack', credentialsSet: true });
    expect(answer.body.destination.config).toMatchObject({
      channel: '#alerts',
      text: expect.stringContaining('{{ $.name }}'),
    });
    expect(answer.body.destination.config).not.toHaveProperty('token');
    expect(answer.body.rule).toMatchObject({
      name: 'Error alerts',
      destinationIds: ['alerts'],
      condition: {
        all: [
          { path: '$.name', op: 'eq', value: 'errors' },
          { path: '$.value', op: 'gt', value: 100 },
        ],
      },
    });
    const rule = await h.api('GET', `/api/v1/routing-rules/${answer.body.rule.id}`);
    expect(rule.body.destinationIds).toEqual(['alerts']);
  });

  it('creates a connector and the job that runs it', async () => {
    const answer = await h.api('POST', '/api/v1/templates/hubspot-contacts-changed/instantiate', {
      name: 'CRM contacts',
      credentials: { accessToken: 'pat-test' },
      job: { schedule: '*/30 * * * *' },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.connector).toMatchObject({ type: 'hubspot', config: { objectType: 'contacts' } });
    expect(answer.body.job).toMatchObject({
      name: 'CRM contacts',
      connectorId: answer.body.connector.id,
      schedule: '*/30 * * * *',
      action: 'sync',
    });
  });

  it('refuses what the user left out, a bad value or a duplicate, and then creates nothing', async () => {
    const [connectors, jobs, rules] = [
      await count(h, '/api/v1/connectors'),
      await count(h, '/api/v1/jobs'),
      await count(h, '/api/v1/routing-rules'),
    ];
    const missing = expectProblem(
      await h.api('POST', '/api/v1/templates/ga4-daily-sessions-by-country/instantiate', {
        name: 'GA4',
        credentials: { accessToken: 't' },
      }),
      422,
    );
    expect(missing.errors).toEqual([expect.objectContaining({ pointer: '/config/propertyId' })]);
    const badSchedule = expectProblem(
      await h.api('POST', '/api/v1/templates/ga4-daily-sessions-by-country/instantiate', {
        name: 'GA4',
        config: { propertyId: '42' },
        credentials: { accessToken: 't' },
        job: { schedule: '61 * * * *' },
      }),
      422,
    );
    expect(badSchedule.errors[0].pointer).toBe('/job/schedule');
    // The connector name is taken: the job of this instance is not created either.
    expectProblem(
      await h.api('POST', '/api/v1/templates/hubspot-contacts-changed/instantiate', {
        name: 'CRM contacts',
        credentials: { accessToken: 'pat-test' },
      }),
      409,
    );
    expectProblem(await h.api('POST', '/api/v1/templates/no-such-example/instantiate', { name: 'x' }), 404);
    expectProblem(await h.api('POST', '/api/v1/templates/s3-event-archive/instantiate', { name: 'x', job: {} }), 422);
    expect([
      await count(h, '/api/v1/connectors'),
      await count(h, '/api/v1/jobs'),
      await count(h, '/api/v1/routing-rules'),
    ]).toEqual([connectors, jobs, rules]);
  });

  it('needs the permission to create every part', async () => {
    permissions.delete('routing-rules:write');
    const refused = expectProblem(
      await h.api('POST', '/api/v1/templates/file-all-events-jsonl/instantiate', {
        name: 'Events file',
        config: { path: 'muxly-events.jsonl' },
      }),
      403,
    );
    expect(refused.detail).toContain('routing-rules:write');
    expect(await count(h, '/api/v1/destinations?nameContains=Events%20file')).toBe(0);
  });
});
