import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { topicNames } from '@muxly/common';
import { ApiProblem } from '../src/http/problem.ts';
import { expectProblem, startHarness, type Harness } from './harness.ts';

describe('control-plane service: templates, docs, health, permissions', () => {
  let h: Harness;
  let fakeRouter: Server;
  const groupPrefix = `test-router-${randomBytes(4).toString('hex')}.`;
  const seenPermissions: string[] = [];

  beforeAll(async () => {
    // A stand-in for the router's health endpoint, so one service answers ready.
    fakeRouter = createServer((request, response) => {
      response.writeHead(request.url === '/readyz' ? 200 : 404, { 'content-type': 'application/json' }).end('{"status":"ready"}');
    });
    await new Promise<void>((resolve) => fakeRouter.listen(0, '127.0.0.1', resolve));
    h = await startHarness({
      controlPlane: { services: { routerUrl: `http://127.0.0.1:${(fakeRouter.address() as AddressInfo).port}`, ingestUrl: 'http://127.0.0.1:1', transformerUrl: 'http://127.0.0.1:1' } },
      settings: { router: { groupIdPrefix: groupPrefix } },
      authorize: (request, _response, permission) => {
        seenPermissions.push(permission);
        if (request.get('x-test-deny') === permission) throw new ApiProblem(403, 'forbidden', `missing permission ${permission}`);
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise((resolve) => fakeRouter?.close(resolve));
  });

  it('lists templates with schema, defaults, required and secret fields', async () => {
    const all = await h.api('GET', '/api/v1/templates');
    expect(all.status).toBe(200);
    expect(all.body.items.map((t: { kind: string; type: string }) => `${t.kind}/${t.type}`)).toEqual(['destination/webhook', 'destination/file', 'connector/custom']);
    const webhook = await h.api('GET', '/api/v1/templates/destination/webhook');
    expect(webhook.body).toMatchObject({ required: ['url', 'signingSecret'], secrets: ['signingSecret'], defaults: { timeoutMs: 5000 }, checkable: false });
    expect(webhook.body.configSchema.properties.url).toEqual({ type: 'string', pattern: '^https?://' });
    const custom = await h.api('GET', '/api/v1/templates?kind=connector');
    expect(custom.body.items[0]).toMatchObject({ type: 'custom', checkable: true, credentialsSchema: { type: 'object' } });
    expectProblem(await h.api('GET', '/api/v1/templates/destination/nope'), 404);
    expectProblem(await h.api('GET', '/api/v1/templates?kind=plugin'), 400);
  });

  it('serves the OpenAPI document and an HTML index at /docs', async () => {
    const html = await fetch(`${h.baseUrl}/docs`);
    expect(html.headers.get('content-type')).toContain('text/html');
    const page = await html.text();
    expect(page).toContain('/api/v1/routing-rules/{id}');
    expect(page).not.toMatch(/<script|https?:\/\/cdn/);
    const yaml = await fetch(`${h.baseUrl}/docs/openapi.yaml`);
    expect(await yaml.text()).toMatch(/^openapi: 3\.1\.0/);
    const json = (await (await fetch(`${h.baseUrl}/docs/openapi.json`)).json()) as { openapi: string };
    expect(json.openapi).toBe('3.1.0');
  });

  it('answers /healthz, /readyz and /metrics', async () => {
    expect((await h.api('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await h.api('GET', '/readyz')).body).toMatchObject({ status: 'ready', checks: { postgresql: { status: 'ok' } } });
    const metrics = await fetch(`${h.baseUrl}/metrics`);
    expect(await metrics.text()).toContain('process_cpu_seconds_total');
  });

  it('reports every dependency and the router lag per destination', async () => {
    const topics = topicNames(h.settings.topics.prefix);
    const admin = h.service.kafka.admin();
    await admin.connect();
    const producer = h.service.kafka.producer();
    try {
      await admin.createTopics({ topics: [{ topic: topics.events, numPartitions: 1 }], waitForLeaders: true });
      await producer.connect();
      await producer.send({ topic: topics.events, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
      await admin.setOffsets({ groupId: `${groupPrefix}orders-s3`, topic: topics.events, partitions: [{ partition: 0, offset: '1' }] });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    const health = await h.api('GET', '/api/v1/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.checks).toMatchObject({
      postgresql: { status: 'ok' },
      kafka: { status: 'ok' },
      schemaRegistry: { status: 'ok' },
      router: { status: 'ok' },
      ingest: { status: 'failing' },
      transformer: { status: 'failing' },
      consumerLag: { status: 'ok' },
    });
    expect(health.body.consumerLag).toEqual([{ groupId: `${groupPrefix}orders-s3`, destinationId: 'orders-s3', lag: 2 }]);
  });

  it('hands every operation its declared permission, in one place', async () => {
    seenPermissions.length = 0;
    await h.api('GET', '/api/v1/destinations');
    await h.api('POST', '/api/v1/routing-rules', { name: 'x', destinationIds: ['missing'] });
    await h.api('PATCH', '/api/v1/jobs/nope', { enabled: true });
    expect(seenPermissions).toEqual(['destinations:read', 'routing-rules:write', 'jobs:write']);
    const denied = expectProblem(await h.api('DELETE', '/api/v1/destinations/x', undefined, { 'x-test-deny': 'destinations:write' }), 403);
    expect(denied.detail).toBe('missing permission destinations:write');
    expect((await h.api('GET', '/docs', undefined, { 'x-test-deny': 'destinations:read' })).status).toBe(200);
  });
});
