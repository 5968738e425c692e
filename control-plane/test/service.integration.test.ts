import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureTopics, topicNames } from '@muxly/common';
import { testTopic } from '../../test/support/kafka.ts';
import { ApiProblem } from '../src/http/problem.ts';
import { expectProblem, startHarness, type Harness } from './harness.ts';

describe('control-plane service: templates, docs, health, permissions', () => {
  let h: Harness;
  let fakeRouter: Server;
  let fakeTransformer: Server;
  const groupPrefix = `test-router-${randomBytes(4).toString('hex')}.`;
  const transformerGroup = `test-transformer-${randomBytes(4).toString('hex')}`;
  let ingestUrl: string;
  const seenPermissions: string[] = [];

  beforeAll(async () => {
    // Stand-ins for the services' health endpoints, answering as Muxly's /readyz does: the router
    // ready, the transformer not ready (its Kafka check failing); ingest is not listening at all.
    fakeRouter = createServer((request, response) => {
      response
        .writeHead(request.url === '/readyz' ? 200 : 404, { 'content-type': 'application/json' })
        .end('{"status":"ready","checks":{"kafka":{"status":"ok"}}}');
    });
    fakeTransformer = createServer((_request, response) => {
      response
        .writeHead(503, { 'content-type': 'application/json' })
        .end(
          '{"status":"not ready","checks":{"kafka":{"status":"failing","error":"broker down"},"registry":{"status":"ok"}}}',
        );
    });
    await new Promise<void>((resolve) => fakeRouter.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => fakeTransformer.listen(0, '127.0.0.1', resolve));
    const port = (server: Server) => (server.address() as AddressInfo).port;
    // A port nothing listens on (taken, then released).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    ingestUrl = `http://127.0.0.1:${port(closed)}`;
    await new Promise((resolve) => closed.close(resolve));
    h = await startHarness({
      controlPlane: {
        services: {
          routerUrl: `http://127.0.0.1:${port(fakeRouter)}`,
          ingestUrl,
          transformerUrl: `http://127.0.0.1:${port(fakeTransformer)}`,
        },
      },
      settings: { router: { groupIdPrefix: groupPrefix }, transformer: { groupId: transformerGroup } },
      authorize: (request, _response, permission) => {
        seenPermissions.push(permission);
        if (request.get('x-test-deny') === permission)
          throw new ApiProblem(403, 'forbidden', `missing permission ${permission}`);
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise((resolve) => fakeRouter?.close(resolve));
    await new Promise((resolve) => fakeTransformer?.close(resolve));
  });

  it('lists templates with schema, defaults, required and secret fields', async () => {
    const all = await h.api('GET', '/api/v1/templates');
    expect(all.status).toBe(200);
    expect(all.body.items.map((t: { kind: string; type: string }) => `${t.kind}/${t.type}`)).toEqual([
      'destination/webhook',
      'destination/file',
      'connector/custom',
    ]);
    const webhook = await h.api('GET', '/api/v1/templates/destination/webhook');
    expect(webhook.body).toMatchObject({
      required: ['url', 'signingSecret'],
      secrets: ['signingSecret'],
      defaults: { timeoutMs: 5000 },
      checkable: false,
    });
    expect(webhook.body.configSchema.properties.url).toEqual({ type: 'string', pattern: '^https?://' });
    const custom = await h.api('GET', '/api/v1/templates?kind=connector');
    expect(custom.body.items[0]).toMatchObject({
      type: 'custom',
      checkable: true,
      credentialsSchema: { type: 'object' },
    });
    expectProblem(await h.api('GET', '/api/v1/templates/destination/nope'), 404);
    expectProblem(await h.api('GET', '/api/v1/templates?kind=plugin'), 400);
  });

  it('serves the OpenAPI document and Swagger UI, from its own origin only, at /docs', async () => {
    const html = await fetch(`${h.baseUrl}/docs`);
    expect(html.headers.get('content-type')).toContain('text/html');
    const page = await html.text();
    expect(page).toContain('<script src="/docs/assets/swagger-ui-bundle.js"></script>');
    expect(page).not.toMatch(/https?:\/\//);
    const yaml = await fetch(`${h.baseUrl}/docs/openapi.yaml`);
    expect(await yaml.text()).toMatch(/^openapi: 3\.1\.0/);
    const json = (await (await fetch(`${h.baseUrl}/docs/openapi.json`)).json()) as { openapi: string };
    expect(json.openapi).toBe('3.1.0');
  });

  it('answers /healthz, /readyz and /metrics', async () => {
    expect((await h.api('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await h.api('GET', '/readyz')).body).toMatchObject({
      status: 'ready',
      checks: { postgresql: { status: 'ok' } },
    });
    const metrics = await fetch(`${h.baseUrl}/metrics`);
    expect(await metrics.text()).toContain('process_cpu_seconds_total');
  });

  it("reports every dependency, each service's readiness, and the lag of every destination and of the transformer", async () => {
    // Two destinations: one consumed part-way, one (disabled) never; and a group left by a deleted destination.
    expect(
      (
        await h.api('POST', '/api/v1/destinations', {
          id: 'orders-file',
          name: 'Orders',
          type: 'file',
          config: { path: 'orders.jsonl' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await h.api('POST', '/api/v1/destinations', {
          id: 'audit-file',
          name: 'Audit',
          type: 'file',
          enabled: false,
          config: { path: 'audit.jsonl' },
        })
      ).status,
    ).toBe(201);
    const topics = topicNames(h.settings.topics.prefix);
    const admin = h.service.kafka.admin();
    await admin.connect();
    const producer = h.service.kafka.producer();
    try {
      await ensureTopics(h.service.kafka, [testTopic(topics.events), testTopic(topics.raw)]);
      await producer.connect();
      await producer.send({ topic: topics.events, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
      await producer.send({ topic: topics.raw, messages: [{ value: 'x' }, { value: 'y' }] });
      await Promise.all([
        admin.setOffsets({
          groupId: `${groupPrefix}orders-file`,
          topic: topics.events,
          partitions: [{ partition: 0, offset: '1' }],
        }),
        admin.setOffsets({
          groupId: `${groupPrefix}deleted-destination`,
          topic: topics.events,
          partitions: [{ partition: 0, offset: '3' }],
        }),
        admin.setOffsets({ groupId: transformerGroup, topic: topics.raw, partitions: [{ partition: 0, offset: '1' }] }),
      ]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    const health = await h.api('GET', '/api/v1/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.checks).toEqual({
      postgresql: { status: 'ok' },
      kafka: { status: 'ok' },
      schemaRegistry: { status: 'ok' },
      router: { status: 'ok', details: { checks: { kafka: { status: 'ok' } } } },
      ingest: { status: 'failing', error: `cannot reach ${ingestUrl}/readyz: ECONNREFUSED` },
      transformer: {
        status: 'failing',
        error: 'readyz answered 503 (kafka: broker down)',
        details: { checks: { kafka: { status: 'failing', error: 'broker down' }, registry: { status: 'ok' } } },
      },
      consumerLag: { status: 'ok' },
    });
    expect(health.body.consumerLag).toEqual([
      {
        groupId: `${groupPrefix}audit-file`,
        destinationId: 'audit-file',
        destinationName: 'Audit',
        enabled: false,
        lag: 3,
      },
      {
        groupId: `${groupPrefix}orders-file`,
        destinationId: 'orders-file',
        destinationName: 'Orders',
        enabled: true,
        lag: 2,
      },
      { groupId: `${groupPrefix}deleted-destination`, destinationId: 'deleted-destination', lag: 0 },
    ]);
    expect(health.body.transformerLag).toEqual({ groupId: transformerGroup, lag: 1 });
  });

  it('hands every operation its declared permission, in one place', async () => {
    seenPermissions.length = 0;
    await h.api('GET', '/api/v1/destinations');
    await h.api('POST', '/api/v1/routing-rules', { name: 'x', destinationIds: ['missing'] });
    await h.api('PATCH', '/api/v1/jobs/nope', { enabled: true });
    expect(seenPermissions).toEqual(['destinations:read', 'routing-rules:write', 'jobs:write']);
    const denied = expectProblem(
      await h.api('DELETE', '/api/v1/destinations/x', undefined, { 'x-test-deny': 'destinations:write' }),
      403,
    );
    expect(denied.detail).toBe('missing permission destinations:write');
    expect((await h.api('GET', '/docs', undefined, { 'x-test-deny': 'destinations:read' })).status).toBe(200);
  });
});
