import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type Server } from 'node:http';
import { createAsyncServer } from '../../../test/support/http.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer, IHeaders, Producer } from 'kafkajs';
import {
  createKafka,
  createLogger,
  encodeWireFormat,
  loadSettings,
  topicNames,
  type MuxlySettings,
} from '@muxly/common';
import { DLQ_HEADERS } from '@muxly/schemas';
import { startRouter, type RouterService } from '../service.ts';
import type { PipelineDefinition } from '../pipeline/pipeline.ts';
import { deleteTopicsWithPrefix } from '../../../test/support/kafka.ts';
import { waitFor } from '../../../test/support/services.ts';

// The router as a whole against the local stack's Kafka: retries with Retry-After, immediate
// dead-lettering of refused events, per-destination metrics, the routes' onFailure policies
// (dead-letter, continue, stop) and a live pipeline change without restart. Peers: a file and a
// real HTTP server receiving webhooks.

const logger = createLogger({ service: 'router-delivery-test', silent: true });
const prefix = `test.router.${randomBytes(4).toString('hex')}.`;
const topics = topicNames(prefix);

interface Request {
  name: string;
  id: string;
  at: number;
  status: number;
}
const requests: Request[] = [];
/** Names the receiver refuses with 400 (a permanent answer); removed to let them through. */
const refusing = new Set(['refused', 'refused-by-crm', 'held']);
let server: Server;
let hookUrl: string;
let directory: string;
let router: RouterService | undefined;
let producer: Producer;
let dlqReader: Consumer;
const deadLetters: { id: string; headers: Record<string, string> }[] = [];
let settings: MuxlySettings;
let pipeline: PipelineDefinition;

function answer(name: string): { status: number; headers?: Record<string, string> } {
  const seen = requests.filter((request) => request.name === name).length;
  if (name === 'throttled' && seen === 0) return { status: 429, headers: { 'retry-after': '1' } };
  if (name === 'flaky') return { status: 503 };
  if (refusing.has(name)) return { status: 400 };
  return { status: 204 };
}

const until = <T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 45_000,
) => waitFor(what, check, timeoutMs, 150);

const ids = new Map<string, string>();
async function produce(
  name: string,
  source: { type: string; id: string } = { type: 'api', id: 'key-1' },
): Promise<string> {
  const id = randomUUID();
  ids.set(name, id);
  const now = new Date().toISOString();
  const event = {
    id,
    schemaVersion: 1,
    kind: 'event',
    name,
    timestamp: now,
    receivedAt: now,
    source,
    dimensions: {},
    attributes: {},
  };
  await producer.send({ topic: topics.events, acks: -1, messages: [{ key: name, value: encodeWireFormat(1, event) }] });
  return id;
}

/** A sample of the router's /metrics whose labels include `labels`; undefined when absent. */
async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${router!.healthPort}/metrics`)).text();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...match[2]!.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((pair) => [pair[1], pair[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

const fileIds = async (name: string): Promise<string[]> =>
  (await readFile(join(directory, name), 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: string }).id);

const headersOf = (headers: IHeaders | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([key, value]) => [key, String(value)]));

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'muxly-router-delivery-'));
  server = createAsyncServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    if (request.method !== 'POST') return void response.writeHead(204).end();
    const event = JSON.parse(body) as { id: string; name: string };
    const { status, headers } = answer(event.name);
    requests.push({ name: event.name, id: event.id, at: Date.now(), status });
    response.writeHead(status, headers).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;

  pipeline = {
    destinations: [
      { id: 'archive', type: 'file', enabled: true, config: { path: 'archive.jsonl' } },
      {
        id: 'hook',
        type: 'webhook',
        enabled: true,
        config: { url: hookUrl, timeoutMs: 5_000 },
      },
    ],
    rules: [
      {
        id: 'everything',
        priority: 1,
        enabled: true,
        transformations: [],
        destinationIds: ['archive'],
        stopOnMatch: false,
      },
      { id: 'api-hook', priority: 2, enabled: true, transformations: [], destinationIds: ['hook'], stopOnMatch: false },
      { id: 'crm-hook', priority: 3, enabled: true, transformations: [], destinationIds: ['hook'], stopOnMatch: false },
      {
        id: 'billing-hook',
        priority: 4,
        enabled: true,
        transformations: [],
        destinationIds: ['hook'],
        stopOnMatch: false,
      },
    ],
    routes: [
      {
        id: 'api',
        connectorId: null,
        ruleIds: ['api-hook'],
        enabled: true,
        errorHandling: { onFailure: 'dead-letter' },
      },
      { id: 'crm', connectorId: 'crm', ruleIds: ['crm-hook'], enabled: true, errorHandling: { onFailure: 'continue' } },
      {
        id: 'billing',
        connectorId: 'billing',
        ruleIds: ['billing-hook'],
        enabled: true,
        errorHandling: { onFailure: 'stop' },
      },
    ],
  };
  settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      topics: { prefix, partitions: 1 },
      outbound: { fileBaseDirectory: directory },
      router: {
        health: { host: '127.0.0.1', port: 0 },
        groupIdPrefix: `${prefix}router.`,
        retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 500 },
      },
    },
  });
  const kafka = createKafka(settings.kafka, logger);
  producer = kafka.producer();
  try {
    await producer.connect();
  } catch (error) {
    throw new Error(
      `Kafka is not reachable at ${settings.kafka.brokers.join(',')} (${(error as Error).message}); start the local stack: npm run stack:start`,
    );
  }
  router = await startRouter(
    { ...settings, pipeline: { destinations: pipeline.destinations, rules: pipeline.rules } },
    logger,
  );
  await router.apply(pipeline);

  dlqReader = kafka.consumer({ groupId: `${prefix}dlq-reader` });
  await dlqReader.connect();
  await dlqReader.subscribe({ topics: [topics.dlq], fromBeginning: true });
  await dlqReader.run({
    eachMessage: async ({ message }) => {
      const event = JSON.parse(message.value!.subarray(5).toString('utf8')) as { id: string };
      deadLetters.push({ id: event.id, headers: headersOf(message.headers) });
    },
  });
});

afterAll(async () => {
  await dlqReader?.disconnect();
  await router?.stop();
  await producer?.disconnect();
  await deleteTopicsWithPrefix(settings.kafka.brokers, prefix).catch(() => undefined);
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await rm(directory, { recursive: true, force: true });
});

test('retries honor Retry-After, refused events are dead-lettered at once, crm failures are skipped; metrics count each', async () => {
  for (const name of ['ok', 'throttled', 'refused', 'flaky']) await produce(name);
  await produce('refused-by-crm', { type: 'hubspot', id: 'crm' });

  const archived = await until('every event in the file destination', async () => {
    const found = await fileIds('archive.jsonl');
    return ['ok', 'throttled', 'refused', 'flaky', 'refused-by-crm'].every((name) => found.includes(ids.get(name)!))
      ? found
      : undefined;
  });
  expect(archived).toHaveLength(5);

  await until('refused and flaky in the DLQ', () => deadLetters.length >= 2);
  await until('the throttled event delivered', () =>
    requests.some((request) => request.name === 'throttled' && request.status === 204),
  );
  await until(
    'the crm event given up',
    async () => (await metric('muxly_router_skipped_total', { destination: 'hook' })) === 1,
  );

  // 429 then success: the retry waited at least the peer's Retry-After (1 s), though the
  // router's own backoff ceiling is 500 ms.
  const throttled = requests.filter((request) => request.name === 'throttled');
  expect(throttled.map((request) => request.status)).toEqual([429, 204]);
  expect(throttled[1]!.at - throttled[0]!.at).toBeGreaterThanOrEqual(950);

  // 400: dead-lettered after one attempt. 503 every time: after maxAttempts (3).
  expect(requests.filter((request) => request.name === 'refused')).toHaveLength(1);
  expect(requests.filter((request) => request.name === 'flaky')).toHaveLength(3);
  const letter = (name: string) => deadLetters.find((entry) => entry.id === ids.get(name))?.headers;
  expect(letter('refused')).toMatchObject({
    [DLQ_HEADERS.stage]: 'router',
    [DLQ_HEADERS.destinationId]: 'hook',
    [DLQ_HEADERS.originalTopic]: topics.events,
    [DLQ_HEADERS.errorClass]: 'PermanentError',
    [DLQ_HEADERS.attempts]: '1',
  });
  expect(letter('flaky')).toMatchObject({ [DLQ_HEADERS.errorClass]: 'RetryableError', [DLQ_HEADERS.attempts]: '3' });
  // The crm route says continue: refused once, not retried, not dead-lettered.
  expect(requests.filter((request) => request.name === 'refused-by-crm')).toHaveLength(1);
  expect(letter('refused-by-crm')).toBeUndefined();

  await until(
    'the hook consumer caught up (lag 0)',
    async () => (await metric('muxly_router_consumer_lag', { destination: 'hook', partition: '0' })) === 0,
  );
  const hook = { destination: 'hook' };
  expect(await metric('muxly_router_delivered_total', hook)).toBe(2); // ok, throttled
  expect(await metric('muxly_router_dead_lettered_total', hook)).toBe(2);
  // Failed attempts: 429 once, 400 once, 503 three times, crm 400 once.
  expect(await metric('muxly_router_failed_attempts_total', hook)).toBe(6);
  // Sent again: throttled once, flaky twice.
  expect(await metric('muxly_router_retried_total', hook)).toBe(3);
  // Latency: one observation per send() (batches vary with how Kafka hands the events over).
  expect(await metric('muxly_router_send_seconds_count', hook)).toBeGreaterThanOrEqual(3);
  expect(await metric('muxly_router_delivered_total', { destination: 'archive' })).toBe(5);
  expect(await metric('muxly_router_dead_lettered_total', { destination: 'archive' })).toBeUndefined();
});

test('a route with onFailure stop holds its destination at the event until it goes through; the file destination goes on', async () => {
  const heldId = await produce('held', { type: 'stripe', id: 'billing' });
  await until('the stopped gauge', async () => (await metric('muxly_router_stopped', { destination: 'hook' })) === 1);
  // Produced once the destination holds, so it is in a later batch than the held event.
  const afterId = await produce('after');
  // Past maxAttempts (3) and still retried, never dead-lettered; nothing after it reaches the hook.
  await until(
    'a fourth attempt at the held event',
    () => requests.filter((request) => request.name === 'held').length >= 4,
  );
  expect(requests.some((request) => request.id === afterId)).toBe(false);
  expect(deadLetters.some((entry) => entry.id === heldId)).toBe(false);
  // Another destination is not held back: both events are in the file.
  await until('both events archived', async () => {
    const found = await fileIds('archive.jsonl');
    return found.includes(heldId) && found.includes(afterId);
  });

  refusing.delete('held');
  await until('the event after the held one', () =>
    requests.some((request) => request.id === afterId && request.status === 204),
  );
  const delivered = requests.filter((request) => request.status === 204).map((request) => request.id);
  expect(delivered.indexOf(heldId)).toBeGreaterThanOrEqual(0);
  expect(delivered.indexOf(heldId)).toBeLessThan(delivered.indexOf(afterId));
  await until(
    'the stopped gauge back to 0',
    async () => (await metric('muxly_router_stopped', { destination: 'hook' })) === 0,
  );
  expect(deadLetters.some((entry) => entry.id === heldId)).toBe(false);
});

test('a new pipeline applies live: a destination added, another removed, a rule changed, without restart', async () => {
  const next: PipelineDefinition = {
    destinations: [
      pipeline.destinations[1]!,
      { id: 'signups', type: 'file', enabled: true, config: { path: 'signups.jsonl' } },
    ],
    rules: [
      {
        id: 'signups-only',
        priority: 1,
        enabled: true,
        condition: { path: '$.name', op: 'eq', value: 'signup' },
        transformations: [],
        destinationIds: ['signups'],
        stopOnMatch: false,
      },
    ],
    routes: [],
  };
  await router!.apply(next);
  const signup = await produce('signup');
  const other = await produce('pageview');
  await until('the signup in the new destination', async () => (await fileIds('signups.jsonl')).includes(signup));
  // The hook has no rule any more and the archive no longer runs: both filtered or absent.
  await until(
    'the hook consumer past both events',
    async () => (await metric('muxly_router_filtered_total', { destination: 'hook' })) === 2,
  );
  expect(requests.some((request) => request.id === signup || request.id === other)).toBe(false);
  expect(await fileIds('archive.jsonl')).not.toContain(signup);
  expect(await fileIds('signups.jsonl')).not.toContain(other);
  // An invalid pipeline is refused whole, naming the place; the running one stays.
  await expect(
    router!.apply({ ...next, rules: [{ ...next.rules[0]!, condition: { path: '$.name', op: 'eqq', value: 1 } }] }),
  ).rejects.toThrow('Invalid routing rules');
  const again = await produce('signup');
  await until('a signup after the refused change', async () => (await fileIds('signups.jsonl')).includes(again));
});
