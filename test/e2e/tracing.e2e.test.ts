import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createAsyncServer } from '../support/http.ts';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { startPipeline, TEST_API_KEY, type TestPipeline } from '../support/pipeline.ts';
import { requireLocalStack, stopAllStartedProcesses, waitFor } from '../support/services.ts';

// Distributed tracing across the whole pipeline, as processes: a metric posted to ingest is one
// trace from the POST through muxly.raw, the transformer, muxly.events and the router to each
// destination, exported over OTLP/HTTP (JSON) to a local receiver; the webhook receives the
// traceparent of its delivery span.

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
const CALLER_TRACEPARENT = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
const SPAN_KIND = { server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** A webhook receiver that keeps each delivered event's id with the request's headers. */
class WebhookReceiver {
  readonly received = new Map<string, IncomingHttpHeaders>();
  readonly #server: Server = createAsyncServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method === 'POST') {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string };
      this.received.set(event.id, request.headers);
    }
    response.writeHead(204).end();
  });
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

async function postOne(pipeline: TestPipeline, name: string, traceparent?: string): Promise<string> {
  const response = await fetch(`${pipeline.ingestUrl}/v1/metrics`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      'content-type': 'application/json',
      ...(traceparent ? { traceparent } : {}),
    },
    body: JSON.stringify({ name, value: 1 }),
    signal: AbortSignal.timeout(15_000),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { ids: string[] }).ids[0]!;
}

const webhookDestination = (url: string) => ({
  id: 'hook',
  type: 'webhook',
  config: { url, batchSize: 1 },
});

afterAll(async () => {
  await stopAllStartedProcesses();
});

describe('with an OTLP endpoint', () => {
  const collector = new OtlpReceiver();
  const webhook = new WebhookReceiver();
  let pipeline: TestPipeline;

  beforeAll(async () => {
    await requireLocalStack();
    const endpoint = await collector.start();
    const url = await webhook.start();
    pipeline = await startPipeline({
      settings: { tracing: { otlpEndpoint: endpoint } },
      destinations: [webhookDestination(url)],
    });
  });
  afterAll(async () => {
    await pipeline?.stopAll();
    await collector.stop();
    await webhook.stop();
  });

  /** The spans of one trace once every stage exported its part (the last is the two deliveries). */
  const traceOf = (traceId: string) =>
    waitFor(
      `the deliver spans of trace ${traceId}`,
      async () => {
        const spans = collector.trace(traceId);
        const deliveries = spans.filter((span) => span.name.startsWith('deliver '));
        return deliveries.length >= 2 ? spans : undefined;
      },
      30_000,
    );

  /** The span named `name`, checked to be the child of `parent` in the same trace. */
  const childOf = (spans: ReceivedSpan[], name: string, parent: ReceivedSpan | undefined) => {
    const found = spans.filter((span) => span.name === name && span.parentSpanId === parent?.spanId);
    expect(found.map((span) => span.name)).toEqual([name]);
    return found[0]!;
  };

  test("one trace runs from the caller's POST through every stage to the webhook and the file", async () => {
    const id = await postOne(pipeline, 'traced.signup', CALLER_TRACEPARENT);
    await waitFor('the event at the webhook', async () => webhook.received.has(id), 30_000);
    await waitFor('the event in the file', async () => pipeline.deliveredIds().has(id), 30_000);
    const spans = await traceOf(CALLER_TRACE);

    const server = spans.find((span) => span.name === 'POST /v1/metrics')!;
    expect(server).toMatchObject({ service: 'muxly-ingest', kind: SPAN_KIND.server, parentSpanId: CALLER_SPAN });
    expect(server.attributes['http.response.status_code']).toBe(202);
    const send = childOf(spans, `send ${pipeline.prefix}raw`, server);
    expect(send).toMatchObject({ service: 'muxly-ingest', kind: SPAN_KIND.producer });
    const normalize = childOf(spans, 'normalize', send);
    expect(normalize).toMatchObject({ service: 'muxly-transformer', kind: SPAN_KIND.consumer });
    expect(normalize.attributes['muxly.events.written']).toBe(1);
    const route = childOf(spans, 'route', normalize);
    expect(route).toMatchObject({ service: 'muxly-router', kind: SPAN_KIND.consumer });
    const toWebhook = childOf(spans, 'deliver webhook', route);
    const toFile = childOf(spans, 'deliver file', route);
    for (const delivery of [toWebhook, toFile]) {
      expect(delivery).toMatchObject({ service: 'muxly-router', kind: SPAN_KIND.client, statusCode: 0 });
      // The event id scoped by its source (an API key's metrics: api/<key id>/<id>).
      expect(delivery.attributes['muxly.event.id']).toBe(`api/e2e/${id}`);
    }
    // The webhook's request carries its delivery span: the receiver's own spans join the trace.
    expect(webhook.received.get(id)?.traceparent).toBe(`00-${CALLER_TRACE}-${toWebhook.spanId}-01`);
  });

  test('a request without a traceparent starts its trace at ingest', async () => {
    const id = await postOne(pipeline, 'untraced.signup');
    await waitFor('the event at the webhook', async () => webhook.received.has(id), 30_000);
    const traceparent = String(webhook.received.get(id)?.traceparent);
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const traceId = traceparent.slice(3, 35);
    expect(traceId).not.toBe(CALLER_TRACE);
    const spans = await traceOf(traceId);
    const roots = spans.filter((span) => span.parentSpanId === undefined);
    expect(roots.map((span) => [span.service, span.name])).toEqual([['muxly-ingest', 'POST /v1/metrics']]);
    expect(spans.map((span) => span.name).sort()).toEqual(
      [
        'POST /v1/metrics',
        `send ${pipeline.prefix}raw`,
        'normalize',
        'route',
        'deliver file',
        'deliver webhook',
      ].sort(),
    );
  });
});

describe('without an OTLP endpoint', () => {
  const collector = new OtlpReceiver();
  const webhook = new WebhookReceiver();
  let pipeline: TestPipeline;

  beforeAll(async () => {
    await requireLocalStack();
    // A receiver on the standard OTLP/HTTP port: an exporter left on its default would post here.
    await collector.start(4318);
    const url = await webhook.start();
    pipeline = await startPipeline({ destinations: [webhookDestination(url)] });
  });
  afterAll(async () => {
    await pipeline?.stopAll();
    await collector.stop();
    await webhook.stop();
  });

  test("nothing is exported, and the caller's traceparent still reaches the webhook unchanged", async () => {
    const id = await postOne(pipeline, 'passthrough.signup', CALLER_TRACEPARENT);
    await waitFor('the event at the webhook', async () => webhook.received.has(id), 30_000);
    expect(webhook.received.get(id)?.traceparent).toBe(CALLER_TRACEPARENT);
    const untraced = await postOne(pipeline, 'passthrough.untraced');
    await waitFor('the second event at the webhook', async () => webhook.received.has(untraced), 30_000);
    expect(webhook.received.get(untraced)?.traceparent).toBeUndefined();

    // A stop flushes whatever a span processor holds: once every service exited, an export that
    // was ever going to happen has happened.
    await pipeline.stopAll();
    expect(collector.requests).toBe(0);
    const logs = Object.values(pipeline.services).flatMap((service) => service.logs().split('\n'));
    expect(logs.filter((line) => /tracing|otlp|opentelemetry/i.test(line))).toEqual([]);
  });
});
