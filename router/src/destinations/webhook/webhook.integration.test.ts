import { createHmac } from 'node:crypto';
import { tmpdir } from 'node:os';
import { type IncomingHttpHeaders, type Server } from 'node:http';
import { createAsyncServer } from '../../../../test/support/http.ts';
import { ConfigurationError, PermanentError, RetryableError, ThrottledError } from '@muxly/common';
import type { DestinationContext, DestinationInstance } from '../destination.ts';
import { createForTest, testContext, testItems } from '../test-context.ts';
import { webhookDestination } from './index.ts';

// Peer: a real node:http server receiving the webhooks. Loopback is allow-listed explicitly, as
// a user would for an internal receiver; without the entry the request is refused.

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}
const received: Received[] = [];
let answer: (
  count: number,
  request: Received,
) => { status: number; headers?: Record<string, string>; delayMs?: number } = () => ({ status: 204 });
let server: Server;
let url: string;
const SECRET = `whsec_${Buffer.from('a-very-secret-signing-key-32byte').toString('base64')}`;

beforeAll(async () => {
  server = createAsyncServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    const entry = { headers: request.headers, body };
    if (request.method === 'POST') received.push(entry);
    const { status, headers, delayMs } = answer(received.length, entry);
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    response.writeHead(status, headers).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/muxly`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});
const created: DestinationInstance[] = [];
const make = async (
  settings: Record<string, unknown>,
  context: DestinationContext = testContext(),
): Promise<DestinationInstance> => {
  const destination = await createForTest(webhookDestination, settings, context);
  created.push(destination);
  return destination;
};
afterEach(async () => {
  await Promise.all(created.splice(0).map((destination) => destination.close()));
});
beforeEach(() => {
  received.length = 0;
  answer = () => ({ status: 204 });
});

const config = (overrides: Record<string, unknown> = {}) => ({
  url,
  secret: SECRET,
  headers: { authorization: 'Bearer receiver-token' },
  ...overrides,
});

/** Verifies a request the way a Standard Webhooks receiver does. */
function verify({ headers, body }: Received): boolean {
  const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key)
    .update(`${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`)
    .digest('base64');
  const age = Math.abs(Date.now() / 1000 - Number(headers['webhook-timestamp']));
  return String(headers['webhook-signature']).split(' ').includes(`v1,${expected}`) && age < 300;
}

test('POSTs each event as signed JSON with Standard Webhooks headers; the webhook-id survives redelivery', async () => {
  const destination = await make(config());
  await destination.healthcheck();
  const items = testItems(2);
  expect(await destination.send(items)).toBeUndefined();
  expect(received).toHaveLength(2);
  expect(received.map((request) => JSON.parse(request.body))).toEqual(items.map((item) => item.event));
  for (const request of received) {
    expect(verify(request)).toBe(true);
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer receiver-token',
      'webhook-id': expect.stringMatching(/^evt-0-[01]$/),
    });
  }
  await destination.send(items.slice(0, 1));
  expect(received[2]!.headers['webhook-id']).toBe(received[0]!.headers['webhook-id']);
});

test('batching sends JSON arrays of up to batchSize events, each request signed', async () => {
  const destination = await make(config({ batchSize: 2 }));
  await destination.send(testItems(5));
  expect(received.map((request) => (JSON.parse(request.body) as { id: string }[]).map((event) => event.id))).toEqual([
    ['evt-0-0', 'evt-0-1'],
    ['evt-0-2', 'evt-0-3'],
    ['evt-0-4'],
  ]);
  expect(received.every(verify)).toBe(true);
  expect(received[0]!.headers['webhook-id']).toMatch(/^batch_/);
});

test('answers map to the router error classes', async () => {
  const destination = await make(config({ timeoutMs: 300 }));
  const cases: [number, Record<string, string>, new (...args: never[]) => Error][] = [
    [500, {}, RetryableError],
    [408, {}, RetryableError],
    [429, { 'retry-after': '5' }, ThrottledError],
    [400, {}, PermanentError],
    [410, {}, PermanentError],
  ];
  for (const [status, headers, errorClass] of cases) {
    answer = () => ({ status, headers });
    const attempt = destination.send(testItems(1)).then((result) => {
      throw result?.failures?.[0]?.error ?? new Error(`HTTP ${status} was accepted`);
    });
    await expect(attempt).rejects.toBeInstanceOf(errorClass);
  }
  answer = () => ({ status: 429, headers: { 'retry-after': '5' } });
  await expect(destination.send(testItems(1))).rejects.toMatchObject({ retryAfterMs: 5000 });
  answer = () => ({ status: 204, delayMs: 1000 });
  await expect(destination.send(testItems(1))).rejects.toBeInstanceOf(RetryableError); // timeout
});

test('a failure in the middle of a batch reports only the events not yet delivered', async () => {
  const destination = await make(config());
  answer = (count) => ({ status: count === 2 ? 503 : 200 });
  const result = await destination.send(testItems(3));
  // The 503 failed; the third was not sent (the peer is failing) and goes again without an attempt.
  expect(result?.failures?.map((failure) => failure.index)).toEqual([1]);
  expect(result?.notSent).toEqual([2]);
  answer = (count) => ({ status: count === 4 ? 422 : 200 });
  const refused = await destination.send(testItems(3));
  expect(refused?.failures?.map((failure) => failure.index)).toEqual([1]); // 4xx: dead-letter that one, deliver the rest
  expect(received).toHaveLength(5); // 2 from the first batch (stopped at the 503), 3 from the second
});

test("loopback and private addresses are refused unless the operator's outbound.allowAddresses names them", async () => {
  // As in production mode with no allow-list: the operator's policy arrives in the context.
  const strict = { ...testContext(), outbound: { fileBaseDirectory: tmpdir(), allowAddresses: [] } };
  for (const target of [url, url.replace('127.0.0.1', 'localhost'), url.replace('127.0.0.1', '[::ffff:7f00:1]')]) {
    const destination = await make(config({ url: target }), strict);
    await expect(destination.send(testItems(1))).rejects.toBeInstanceOf(ConfigurationError);
    await expect(destination.healthcheck()).rejects.toBeInstanceOf(ConfigurationError);
  }
  // The editor's config has no allow-list of its own any more: an `allow` field is refused.
  await expect(make(config({ allow: ['0.0.0.0/0'] }), strict)).rejects.toThrow(/allow/);
  // Loopback allowed (local mode) does not open the metadata address.
  const metadata = await make(config({ url: 'http://169.254.169.254/latest/meta-data/' }));
  await expect(metadata.send(testItems(1))).rejects.toBeInstanceOf(ConfigurationError);
  expect(received).toHaveLength(0);
});
