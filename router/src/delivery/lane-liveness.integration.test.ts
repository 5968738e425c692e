import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Admin, Producer } from 'kafkajs';
import { createKafka, createLogger, encodeWireFormat, loadSettings, topicNames } from '@muxly/common';
import { createAsyncServer } from '../../../test/support/http.ts';
import { deleteTopicsAndGroups } from '../../../test/support/kafka.ts';
import { waitFor } from '../../../test/support/services.ts';
import { startRouter, type RouterService } from '../service.ts';

// Against the local stack's Kafka: a destination lane held by a send that never returns, while
// events wait for it, turns the router's /healthz to 503 naming the lane's group; a destination
// that merely refuses (the lane backs off and retries) is alive and never named. Once the held
// send is answered the lane delivers and /healthz answers 200 again.

const logger = createLogger({ service: 'router-lane-liveness-test', silent: true });
const prefix = `test.lane-liveness.${randomBytes(4).toString('hex')}.`;
const topics = topicNames(prefix);
const groupIdPrefix = `${prefix}router.`;
const STALL_AFTER_MS = 1_500;

/** Requests to the held receiver wait here, unanswered, until release(). */
const held: ServerResponse[] = [];
let releasing = false;
const heldIds = new Set<string>();
let refusedAt: number[] = [];

async function body(request: AsyncIterable<unknown>): Promise<{ id: string }[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }[];
}

const holding = createAsyncServer(async (request, response) => {
  if (request.method !== 'POST') return void response.writeHead(204).end();
  const events = await body(request);
  if (!releasing) return void held.push(response);
  for (const event of events) heldIds.add(event.id);
  response.writeHead(200).end();
});
const refusing = createAsyncServer(async (request, response) => {
  if (request.method !== 'POST') return void response.writeHead(204).end();
  await body(request);
  refusedAt.push(Date.now());
  response.writeHead(503).end('refusing on purpose');
});

let router: RouterService | undefined;
let producer: Producer;
let admin: Admin;
let brokers: string[] = [];

const listen = async (server: typeof holding) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
};

async function healthz(): Promise<{ status: number; body: { status: string; stalled?: { consumer: string }[] } }> {
  const response = await fetch(`http://127.0.0.1:${router!.healthPort}/healthz`);
  return {
    status: response.status,
    body: (await response.json()) as { status: string; stalled?: { consumer: string }[] },
  };
}

beforeAll(async () => {
  const [holdingUrl, refusingUrl] = [await listen(holding), await listen(refusing)];
  const settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      topics: { prefix, partitions: 1 },
      liveness: { stallAfterMs: STALL_AFTER_MS },
      router: {
        health: { host: '127.0.0.1', port: 0 },
        groupIdPrefix,
        // Retries well inside stallAfterMs: each one is a sign of life.
        retry: { maxAttempts: 100_000, initialDelayMs: 50, maxDelayMs: 300 },
      },
    },
  });
  brokers = settings.kafka.brokers;
  const kafka = createKafka(settings.kafka, logger);
  admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `Kafka is not reachable at ${settings.kafka.brokers.join(',')} (${(error as Error).message}); start the local stack: npm run stack:start`,
    );
  }
  producer = kafka.producer();
  await producer.connect();
  const webhook = (id: string, url: string) => ({
    id,
    type: 'webhook',
    enabled: true,
    // The held request outlives the test: only its answer (or the router's stop) ends it.
    config: { url, batchSize: 100, timeoutMs: 120_000 },
  });
  router = await startRouter(
    {
      ...settings,
      pipeline: {
        destinations: [webhook('held', holdingUrl), webhook('refusing', refusingUrl)],
        rules: [
          {
            id: 'all',
            priority: 1,
            enabled: true,
            transformations: [],
            destinationIds: ['held', 'refusing'],
            stopOnMatch: false,
          },
        ],
      },
    },
    logger,
  );
});

afterAll(async () => {
  releasing = true;
  for (const response of held.splice(0)) response.writeHead(200).end();
  await router?.stop();
  await producer?.disconnect();
  if (admin) {
    await admin.disconnect();
    await deleteTopicsAndGroups(brokers, { prefix });
  }
  await Promise.all([holding, refusing].map((server) => new Promise((resolve) => server.close(resolve))));
});

test('a lane held by a send that never returns turns /healthz 503 naming it; a refusing destination that backs off does not', async () => {
  const now = new Date().toISOString();
  const ids = Array.from({ length: 5 }, () => randomUUID());
  await producer.send({
    topic: topics.events,
    acks: -1,
    messages: ids.map((id, index) => ({
      key: `series-${index}`,
      value: encodeWireFormat(1, {
        id,
        schemaVersion: 1,
        kind: 'metric',
        name: 'liveness',
        timestamp: now,
        receivedAt: now,
        source: { type: 'api', id: 'key-1' },
        value: index,
        dimensions: {},
        attributes: {},
      }),
    })),
  });
  await waitFor('the held receiver to hold a request', async () => held.length > 0, 60_000);

  const stalled = await waitFor(
    '/healthz to report the held lane',
    async () => {
      const answer = await healthz();
      return answer.status === 503 ? answer.body : undefined;
    },
    60_000,
  );
  expect(stalled.status).toBe('stalled');
  expect(stalled.stalled).toEqual([
    {
      consumer: `${groupIdPrefix}held`,
      reason: expect.stringMatching(/^5 records waiting and no progress for \d+ s \(running\)$/),
    },
  ]);

  // The refusing destination has been refused for longer than stallAfterMs (the marker: its
  // refusals span more than twice that) and is still not named: retrying is not being stuck.
  refusedAt = refusedAt.slice(-1);
  await waitFor(
    'refusals spanning twice stallAfterMs',
    async () => refusedAt.length > 1 && refusedAt.at(-1)! - refusedAt[0]! > 2 * STALL_AFTER_MS,
    60_000,
  );
  const later = await healthz();
  expect(later.status).toBe(503);
  expect(later.body.stalled?.map((entry) => entry.consumer)).toEqual([`${groupIdPrefix}held`]);

  // Answered at last (the held request fails with 500 and the lane's retry is accepted): the
  // lane delivers and is alive again, while the refusing one still retries.
  releasing = true;
  for (const response of held.splice(0)) response.writeHead(500).end();
  await waitFor('the events at the released receiver', async () => ids.every((id) => heldIds.has(id)), 60_000);
  await waitFor('/healthz to answer 200 again', async () => (await healthz()).status === 200, 60_000);
}, 120_000);
