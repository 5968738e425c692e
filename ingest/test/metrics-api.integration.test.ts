import { gzipSync } from 'node:zlib';
import { createHash, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { requireLocalStack, waitFor } from '../../test/support/services.ts';
import { collectTopic, ingestSettings, post, rejectionCounts, startTestIngest, WRITER_KEY } from './api-helpers.ts';

// Every answer of POST /v1/metrics against the real broker, on one ingest with its own topics.

let ingest: Awaited<ReturnType<typeof startTestIngest>>;
let raw: Awaited<ReturnType<typeof collectTopic>>;
let rawTopic: string;

/**
 * Reads the rejection counters of an ingest now; the function returned says by how much each grew
 * since (only those that did). Each test compares its own growth, so any test can run alone.
 */
async function rejectionsSince(url: string): Promise<() => Promise<Record<string, number>>> {
  const before = await rejectionCounts(url);
  return async () => {
    const grown: Record<string, number> = {};
    for (const [reason, count] of Object.entries(await rejectionCounts(url)))
      if (count !== (before[reason] ?? 0)) grown[reason] = count - (before[reason] ?? 0);
    return grown;
  };
}

beforeAll(async () => {
  await requireLocalStack();
  const settings = ingestSettings();
  rawTopic = `${settings.topics.prefix}raw`;
  ingest = await startTestIngest(settings);
  raw = await collectTopic(rawTopic);
});

afterAll(async () => {
  await raw?.stop();
  await ingest?.stop();
});

const json = (value: unknown) => JSON.stringify(value);
const problemOf = async (response: Response) => {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await response.json()) as {
    type: string;
    title: string;
    status: number;
    detail?: string;
    errors?: { pointer: string; detail: string }[];
  };
};
/** Raw records are whole requests; the envelopes whose metrics carry one of the ids. */
const envelopesWith = (id: string) =>
  raw.values
    .map((value) => JSON.parse(value) as { payload: { metrics: { id: string }[] } })
    .filter((envelope) => envelope.payload.metrics.some((metric) => metric.id === id));

test('202 answers the count and ids after the ack; client ids are kept, others generated; the raw record holds the request', async () => {
  const clientId = `client-${randomUUID()}`;
  const response = await post(
    ingest.url,
    json({
      metrics: [
        {
          id: clientId,
          name: 'checkout.latency',
          value: 12.5,
          unit: 'ms',
          timestamp: '2026-05-01T10:00:00Z',
          dimensions: { region: 'eu', canary: false },
          attributes: { build: { sha: 'abc' } },
        },
        { name: 'signups', value: 3 },
      ],
    }),
  );
  expect(response.status).toBe(202);
  const body = (await response.json()) as { accepted: number; ids: string[] };
  expect(body.accepted).toBe(2);
  expect(body.ids[0]).toBe(clientId);
  expect(body.ids[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const [envelope] = await waitFor(
    'the raw record',
    async () => envelopesWith(clientId).length > 0 && envelopesWith(clientId),
    15_000,
  );
  expect(envelopesWith(clientId)).toHaveLength(1);
  expect(envelope).toEqual({
    envelopeVersion: 1,
    format: 'api.metrics.v1',
    source: { type: 'api', id: 'writer' },
    receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    payload: {
      metrics: [
        {
          id: clientId,
          name: 'checkout.latency',
          value: 12.5,
          unit: 'ms',
          timestamp: '2026-05-01T10:00:00Z',
          dimensions: { region: 'eu', canary: false },
          attributes: { build: { sha: 'abc' } },
        },
        // A missing timestamp becomes the time received.
        {
          id: body.ids[1],
          name: 'signups',
          value: 3,
          timestamp: (envelope as unknown as { receivedAt: string }).receivedAt,
        },
      ],
    },
  });
});

test('a single metric (not a batch) and the X-API-Key header are accepted', async () => {
  const response = await post(ingest.url, json({ name: 'single', value: 1 }), {
    authorization: '',
    'x-api-key': WRITER_KEY,
  });
  expect(response.status).toBe(202);
  expect(((await response.json()) as { accepted: number }).accepted).toBe(1);
});

test('a gzip-encoded body is accepted', async () => {
  const id = `gz-${randomUUID()}`;
  const response = await post(ingest.url, gzipSync(json({ metrics: [{ id, name: 'zipped', value: 7 }] })), {
    'content-encoding': 'gzip',
  });
  expect(response.status).toBe(202);
  await waitFor('the gzip-sent metric in the raw topic', async () => envelopesWith(id).length === 1, 15_000);
});

test("a caller's traceparent goes on the raw record; an invalid one is ignored, not refused (tracing off)", async () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const cases = [
    { id: `tp-${randomUUID()}`, header: traceparent, expected: traceparent },
    { id: `tp-${randomUUID()}`, header: '00-not-a-trace-01', expected: undefined },
    { id: `tp-${randomUUID()}`, header: undefined, expected: undefined },
  ];
  for (const { id, header } of cases) {
    const response = await post(
      ingest.url,
      json({ id, name: 'traced', value: 1 }),
      header ? { traceparent: header } : {},
    );
    expect(response.status).toBe(202);
  }
  for (const { id, expected } of cases) {
    const index = await waitFor(
      'the traced metric in the raw topic',
      async () => {
        const found = raw.values.findIndex((value) => value.includes(id));
        return found >= 0 ? found : undefined;
      },
      15_000,
    );
    expect(raw.traceparents[index]).toBe(expected);
  }
});

test('malformed JSON is 400', async () => {
  const rejections = await rejectionsSince(ingest.url);
  const response = await post(ingest.url, '{"name": "broken", ');
  expect(response.status).toBe(400);
  expect(await rejections()).toEqual({ '400_malformed_json': 1 });
  expect(await problemOf(response)).toMatchObject({
    status: 400,
    title: 'Bad Request',
    detail: expect.stringMatching(/not valid JSON/),
  });
});

test('a schema violation is 422 naming every invalid field of every item by JSON pointer; the batch is rejected whole', async () => {
  const rejections = await rejectionsSince(ingest.url);
  const goodId = `good-but-rejected-${randomUUID()}`;
  const response = await post(
    ingest.url,
    json({
      metrics: [
        { id: goodId, name: 'fine', value: 1 },
        { name: '9starts-with-digit', value: 'high', extra: true },
        { value: 2, timestamp: 'yesterday', dimensions: { nested: { no: 1 } } },
      ],
    }),
  );
  expect(response.status).toBe(422);
  expect(await rejections()).toEqual({ '422_schema': 1 });
  const body = await problemOf(response);
  expect(body.status).toBe(422);
  const pointers = body.errors!.map((error) => error.pointer).sort();
  expect(pointers).toEqual([
    '/metrics/1/extra',
    '/metrics/1/name',
    '/metrics/1/value',
    '/metrics/2/dimensions/nested',
    '/metrics/2/name',
    '/metrics/2/timestamp',
  ]);
  for (const error of body.errors!) expect(error.detail).toEqual(expect.any(String));

  // A single metric names its fields from the root.
  const single = await post(ingest.url, json({ name: 'x', value: 'NaN' }));
  expect(single.status).toBe(422);
  expect(await rejections()).toEqual({ '422_schema': 2 });
  expect((await problemOf(single)).errors).toEqual([{ pointer: '/value', detail: 'must be number' }]);

  // Nothing of the rejected batch reached Kafka: a later accepted request is there, it is not.
  const marker = `marker-${randomUUID()}`;
  expect((await post(ingest.url, json({ id: marker, name: 'marker', value: 0 }))).status).toBe(202);
  await waitFor('the marker in the raw topic', async () => envelopesWith(marker).length === 1, 15_000);
  expect(envelopesWith(goodId)).toEqual([]);
});

test.each([
  ['an empty batch', { metrics: [] }, [{ pointer: '/metrics', detail: 'must NOT have fewer than 1 items' }]],
  [
    'a timestamp that is not RFC 3339',
    { name: 'x', value: 1, timestamp: '2026-05-01 10:00' },
    [{ pointer: '/timestamp', detail: 'must match format "date-time"' }],
  ],
  [
    'an unknown field of a single metric',
    { name: 'x', value: 1, extra: 1 },
    [{ pointer: '/extra', detail: 'must NOT have additional properties' }],
  ],
  [
    'an unknown field beside the batch',
    { metrics: [{ name: 'x', value: 1 }], extra: 1 },
    [{ pointer: '/extra', detail: 'must NOT have additional properties' }],
  ],
  [
    'a number sent as a string (no coercion)',
    { name: 'x', value: '1' },
    [{ pointer: '/value', detail: 'must be number' }],
  ],
  ['a body that is an array', [{ name: 'x', value: 1 }], [{ pointer: '', detail: 'must be object' }]],
  [
    'a dimension that is an object',
    { name: 'x', value: 1, dimensions: { a: { b: 1 } } },
    [{ pointer: '/dimensions/a', detail: 'must match a schema in anyOf' }],
  ],
])('%s is 422 with exactly its pointer', async (_case, body, errors) => {
  const rejections = await rejectionsSince(ingest.url);
  const response = await post(ingest.url, json(body));
  expect(response.status).toBe(422);
  expect(await rejections()).toEqual({ '422_schema': 1 });
  expect(await problemOf(response)).toEqual({
    type: 'https://muxly.dev/problems/422',
    title: 'Unprocessable Content',
    status: 422,
    detail: 'The request body does not match the schema.',
    errors,
  });
});

test('an empty body with the JSON media type is a metric missing its fields (422)', async () => {
  const response = await post(ingest.url, '');
  expect(response.status).toBe(422);
  expect((await problemOf(response)).errors).toEqual([
    { pointer: '/name', detail: "must have required property 'name'" },
    { pointer: '/value', detail: "must have required property 'value'" },
  ]);
});

test('a query parameter is 400 naming it; a traceparent over 512 characters is 400 naming the header', async () => {
  const rejections = await rejectionsSince(ingest.url);
  const query = await fetch(`${ingest.url}/v1/metrics?dryRun=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WRITER_KEY}`, 'content-type': 'application/json' },
    body: json({ name: 'x', value: 1 }),
  });
  expect(query.status).toBe(400);
  expect(await problemOf(query)).toMatchObject({
    detail: "Unknown query parameter 'dryRun'",
    errors: [{ pointer: '/query/dryRun', detail: "Unknown query parameter 'dryRun'" }],
  });

  const header = await post(ingest.url, json({ name: 'x', value: 1 }), { traceparent: 'x'.repeat(513) });
  expect(header.status).toBe(400);
  expect(await problemOf(header)).toMatchObject({
    detail: 'request/headers/traceparent must NOT have more than 512 characters',
    errors: [{ pointer: '/headers/traceparent', detail: 'must NOT have more than 512 characters' }],
  });
  expect(await rejections()).toEqual({ '400_invalid_request': 2 });
});

test('another method on /v1/metrics is 405; an unknown path under /v1 is 404', async () => {
  const rejections = await rejectionsSince(ingest.url);
  const get = await fetch(`${ingest.url}/v1/metrics`, { headers: { authorization: `Bearer ${WRITER_KEY}` } });
  expect(get.status).toBe(405);
  expect((await problemOf(get)).detail).toBe('GET method not allowed');
  const unknown = await fetch(`${ingest.url}/v1/other`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WRITER_KEY}`, 'content-type': 'application/json' },
    body: json({ name: 'x', value: 1 }),
  });
  expect(unknown.status).toBe(404);
  await problemOf(unknown);
  expect(await rejections()).toEqual({ '405_route': 1, '404_route': 1 });
});

test('a body that does not decompress is 400; an unknown content encoding is 415', async () => {
  const rejections = await rejectionsSince(ingest.url);
  const corrupt = await post(ingest.url, Buffer.from('{"name":"x","value":1}'), { 'content-encoding': 'gzip' });
  expect(corrupt.status).toBe(400);
  expect(await rejections()).toEqual({ '400_unreadable_body': 1 });
  expect((await problemOf(corrupt)).detail).toMatch(/^The request body could not be read: /);

  const unknown = await post(ingest.url, '{"name":"x","value":1}', { 'content-encoding': 'compress' });
  expect(unknown.status).toBe(415);
  expect(await rejections()).toEqual({ '400_unreadable_body': 1, '415_unsupported_encoding': 1 });
  expect((await problemOf(unknown)).detail).toMatch(/unsupported content encoding "compress"/);
});

test('a wrong or missing content type is 415', async () => {
  const rejections = await rejectionsSince(ingest.url);
  const response = await post(ingest.url, 'name=x&value=1', { 'content-type': 'application/x-www-form-urlencoded' });
  expect(response.status).toBe(415);
  expect(await problemOf(response)).toMatchObject({
    status: 415,
    detail: 'Send application/json (optionally with Content-Encoding: gzip).',
  });
  // A JSON body without its media type is not guessed at.
  const untyped = await fetch(`${ingest.url}/v1/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WRITER_KEY}` },
    body: new Blob([json({ name: 'x', value: 1 })]),
  });
  expect(untyped.status).toBe(415);
  await problemOf(untyped);
  expect(await rejections()).toEqual({ '415_content_type': 2 });
});

test.each([
  ['missing', {}, '401_api_key_missing', /Send an API key/],
  ['unknown', { authorization: 'Bearer mxk_not_a_key' }, '401_api_key_invalid', /not valid/],
  [
    'non-bearer',
    { authorization: `Basic ${Buffer.from(`x:${WRITER_KEY}`).toString('base64')}` },
    '401_api_key_missing',
    /Send an API key/,
  ],
])('a %s API key is 401', async (_case, headers, reason, detail) => {
  const rejections = await rejectionsSince(ingest.url);
  const response = await fetch(`${ingest.url}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: json({ name: 'x', value: 1 }),
  });
  expect(response.status).toBe(401);
  expect(await rejections()).toEqual({ [reason]: 1 });
  expect(response.headers.get('www-authenticate')).toBe('Bearer');
  const body = await problemOf(response);
  expect(body.detail).toMatch(detail);
  // The presented key never comes back.
  expect(JSON.stringify(body)).not.toContain('mxk_not_a_key');
});

describe('limits are 413', () => {
  test('a metric over 32 KB, named by pointer', async () => {
    const rejections = await rejectionsSince(ingest.url);
    const response = await post(
      ingest.url,
      json({
        metrics: [
          { name: 'small', value: 1 },
          { name: 'big', value: 1, attributes: { blob: 'x'.repeat(33_000) } },
        ],
      }),
    );
    expect(response.status).toBe(413);
    expect(await rejections()).toEqual({ '413_metric_too_large': 1 });
    expect((await problemOf(response)).errors).toEqual([
      { pointer: '/metrics/1', detail: expect.stringMatching(/bytes; the limit is 32768$/) },
    ]);
  });

  test('a request over 1 MB', async () => {
    const rejections = await rejectionsSince(ingest.url);
    const metrics = Array.from({ length: 40 }, (_, index) => ({
      name: 'filler',
      value: index,
      attributes: { blob: 'y'.repeat(30_000) },
    }));
    const response = await post(ingest.url, json({ metrics }));
    expect(response.status).toBe(413);
    expect(await rejections()).toEqual({ '413_too_large': 1 });
    expect((await problemOf(response)).detail).toMatch(/after decompression/);
  });

  test('a gzip bomb: 20 KB that inflates to 20 MB is refused, and the service still answers', async () => {
    const rejections = await rejectionsSince(ingest.url);
    const bomb = gzipSync(
      Buffer.concat([Buffer.from('{"metrics":['), Buffer.alloc(20 * 1024 * 1024, 0x20), Buffer.from(']}')]),
      { level: 9 },
    );
    expect(bomb.length).toBeLessThan(64 * 1024);
    const response = await post(ingest.url, bomb, { 'content-encoding': 'gzip' });
    expect(response.status).toBe(413);
    expect(await rejections()).toEqual({ '413_too_large': 1 });
    expect((await problemOf(response)).detail).toMatch(/after decompression/);
    // Still serving: a normal request right after is accepted.
    expect((await post(ingest.url, json({ name: 'after-bomb', value: 1 }))).status).toBe(202);
  });

  test('a batch of more than 1,000 metrics', async () => {
    const rejections = await rejectionsSince(ingest.url);
    const metrics = Array.from({ length: 1_001 }, (_, index) => ({ name: 'n', value: index }));
    const response = await post(ingest.url, json({ metrics }));
    expect(response.status).toBe(413);
    expect(await rejections()).toEqual({ '413_batch_too_large': 1 });
    expect((await problemOf(response)).detail).toMatch(/at most 1000 metrics; this one has 1001/);
  });
});

test('the OpenAPI document is served at /docs', async () => {
  // /docs is Swagger UI; the document itself is beside it.
  const page = await fetch(`${ingest.url}/docs`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  expect(await page.text()).toContain('/docs/openapi.yaml');
  const response = await fetch(`${ingest.url}/docs/openapi.yaml`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/yaml/);
  expect(await response.text()).toMatch(/^openapi: 3\.1\.0/);
});

test('over the per-key rate limit is 429 with Retry-After, per key, and counted', async () => {
  const limited = await startTestIngest(
    ingestSettings({
      ingest: {
        rateLimit: { requestsPerSecond: 0.5, burst: 2 },
        apiKeys: [WRITER_KEY, 'mxk_other'].map((key, index) => ({
          id: ['writer', 'other'][index],
          hash: `sha256:${createHash('sha256').update(key).digest('hex')}`,
        })),
      },
    }),
  );
  try {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(limited.url, json({ name: 'r', value: i }))).status);
    expect(statuses).toEqual([202, 202, 429]);
    const response = await post(limited.url, json({ name: 'r', value: 9 }));
    expect(response.status).toBe(429);
    // One token every 2 s: the wait is announced in whole seconds.
    expect(response.headers.get('retry-after')).toMatch(/^[12]$/);
    expect((await problemOf(response)).type).toBe('https://muxly.dev/problems/rate-limited');
    // Another key has its own bucket.
    expect((await post(limited.url, json({ name: 'r', value: 1 }), { authorization: 'Bearer mxk_other' })).status).toBe(
      202,
    );
    expect((await rejectionCounts(limited.url))['429_rate_limited']).toBe(2);
  } finally {
    await limited.stop();
  }
});

/**
 * Writes `chunks` on a raw connection (a pause of `pauseMs` before each later one) and returns all
 * the server answered before it closed the connection.
 */
function rawExchange(url: string, chunks: string[], pauseMs = 0): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (data) => (received += data.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.setTimeout(30_000, () => socket.destroy(new Error(`no close within 30 s; received: ${received}`)));
    void (async () => {
      for (const [index, chunk] of chunks.entries()) {
        if (index > 0) await new Promise((wait) => setTimeout(wait, pauseMs));
        if (socket.destroyed) return;
        socket.write(chunk);
      }
    })();
  });
}
const problemIn = (answer: string) => {
  const [head, body] = answer.split('\r\n\r\n');
  expect(head).toMatch(/^content-type: application\/problem\+json$/im);
  expect(head).toMatch(/^connection: close$/im);
  return JSON.parse(body!) as { status: number; title: string; detail: string };
};

describe('slow clients', () => {
  let slow: Awaited<ReturnType<typeof startTestIngest>>;
  beforeAll(async () => {
    const settings = ingestSettings({
      ingest: { clientTimeouts: { headersMs: 500, requestMs: 1_500, keepAliveMs: 1_000 } },
    });
    // The same raw topic as the suite's reader, so "nothing reaches Kafka" is checked where it would land.
    slow = await startTestIngest({ ...settings, topics: { ...settings.topics, prefix: rawTopic.replace(/raw$/, '') } });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  test('headers not complete within ingest.clientTimeouts.headersMs: 408 problem+json, connection closed', async () => {
    const rejections = await rejectionsSince(slow.url);
    // The headers never end; the connection is answered and closed by the server, not by us.
    const answer = await rawExchange(
      slow.url,
      ['POST /v1/metrics HTTP/1.1\r\nHost: ingest\r\n', 'Content-Type: application/json\r\n'],
      200,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(problemIn(answer)).toMatchObject({ status: 408, title: 'Request Timeout' });
    expect(await rejections()).toEqual({ '408_request_timeout': 1 });
  });

  test('a body not complete within ingest.clientTimeouts.requestMs: 408 problem+json, and nothing reaches Kafka', async () => {
    const rejections = await rejectionsSince(slow.url);
    const id = `slow-${randomUUID()}`;
    const body = JSON.stringify({ id, name: 'slow', value: 1 });
    const head = `POST /v1/metrics HTTP/1.1\r\nHost: ingest\r\nAuthorization: Bearer ${WRITER_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // Half the body, then silence past the deadline.
    const answer = await rawExchange(slow.url, [head, body.slice(0, 10)], 100);
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(problemIn(answer).status).toBe(408);
    expect(await rejections()).toEqual({ '408_request_timeout': 1 });
    // Nothing reached Kafka: a later accepted request through the same ingest is there, it is not.
    const marker = `marker-${randomUUID()}`;
    expect((await post(slow.url, json({ id: marker, name: 'marker', value: 0 }))).status).toBe(202);
    await waitFor('the marker in the raw topic', async () => envelopesWith(marker).length === 1, 15_000);
    expect(envelopesWith(id)).toEqual([]);
  });

  test("headers over Node's size limit: 431 problem+json", async () => {
    const rejections = await rejectionsSince(slow.url);
    const answer = await rawExchange(slow.url, [
      `POST /v1/metrics HTTP/1.1\r\nHost: ingest\r\nX-Filler: ${'f'.repeat(20_000)}\r\n\r\n`,
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(problemIn(answer).status).toBe(431);
    expect(await rejections()).toEqual({ '431_headers_too_large': 1 });
  });
});
