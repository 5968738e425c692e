import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin, Producer } from 'kafkajs';
import {
  createKafka,
  createLogger,
  encodeWireFormat,
  loadSettings,
  topicNames,
  type MuxlySettings,
} from '@muxly/common';
import { deleteTopicsAndGroups } from '../../../test/support/kafka.ts';
import { waitFor } from '../../../test/support/services.ts';
import { startRouter, type RouterService } from '../service.ts';

// One reader per router instance, one queue and one consumer group per destination, against the
// local stack's Kafka: a destination that cannot write stops holding back the others once its
// queue is full (it is detached), then catches up on its own from its committed position and
// attaches again; each destination's position is the committed offsets of its own group.

const logger = createLogger({ service: 'router-fan-out-test', silent: true });
const prefix = `test.fanout.${randomBytes(4).toString('hex')}.`;
const topics = topicNames(prefix);
const groupIdPrefix = `${prefix}router.`;
const COUNT = 5_000;

let directory: string;
let blocker: string;
let settings: MuxlySettings;
let router: RouterService | undefined;
let producer: Producer;
let admin: Admin;

const fileIds = async (name: string): Promise<Set<string>> =>
  new Set(
    (await readFile(join(directory, name), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { id: string }).id),
  );

async function metric(name: string, destination: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${router!.healthPort}/metrics`)).text();
  const line = text
    .split('\n')
    .find((entry) => entry.startsWith(`${name}{`) && entry.includes(`destination="${destination}"`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

async function produce(count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const now = new Date().toISOString();
  for (let start = 0; start < ids.length; start += 500) {
    await producer.send({
      topic: topics.events,
      acks: -1,
      messages: ids.slice(start, start + 500).map((id, index) => ({
        key: `series-${index % 7}`,
        value: encodeWireFormat(1, {
          id,
          schemaVersion: 1,
          kind: 'metric',
          name: 'load',
          timestamp: now,
          receivedAt: now,
          source: { type: 'api', id: 'key-1' },
          value: index,
          dimensions: {},
          attributes: {},
        }),
      })),
    });
  }
  return ids;
}

/** The group's committed offsets equal the end of every partition of the events topic. */
async function atEnd(groupId: string): Promise<boolean> {
  const ends = await admin.fetchTopicOffsets(topics.events);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topics.events] });
  return ends.every(
    (end) => committed?.partitions.find((entry) => entry.partition === end.partition)?.offset === end.high,
  );
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'muxly-router-fan-out-'));
  // A regular file where the slow destination's folder should be: every write fails until it goes.
  blocker = join(directory, 'blocked');
  await writeFile(blocker, '');
  settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      topics: { prefix, partitions: 2 },
      outbound: { fileBaseDirectory: directory },
      router: {
        health: { host: '127.0.0.1', port: 0 },
        groupIdPrefix,
        retry: { maxAttempts: 100_000, initialDelayMs: 50, maxDelayMs: 200 },
      },
    },
  });
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
  router = await startRouter(
    {
      ...settings,
      pipeline: {
        destinations: [
          { id: 'fast', type: 'file', enabled: true, config: { path: 'fast.jsonl' } },
          { id: 'slow', type: 'file', enabled: true, config: { path: 'blocked/slow.jsonl' } },
        ],
        rules: [
          {
            id: 'all',
            priority: 1,
            enabled: true,
            transformations: [],
            destinationIds: ['fast', 'slow'],
            stopOnMatch: false,
          },
        ],
      },
    },
    logger,
  );
});

afterAll(async () => {
  await router?.stop();
  await producer?.disconnect();
  if (admin) {
    await admin.disconnect();
    await deleteTopicsAndGroups(settings.kafka.brokers, { prefix });
  }
  await rm(directory, { recursive: true, force: true });
});

test('a destination that cannot write is detached and never holds back the other; it catches up and attaches again', async () => {
  const ids = await produce(COUNT);
  // More events than the slow destination's queue holds: the fast one still gets every one.
  await waitFor(
    'every event in the fast destination',
    async () => (await fileIds('fast.jsonl')).size === COUNT,
    60_000,
  );
  expect(await metric('muxly_router_detached', 'slow')).toBe(1);
  await waitFor('the fast group at the end of the topic', () => atEnd(`${groupIdPrefix}fast`));
  expect(await atEnd(`${groupIdPrefix}slow`)).toBe(false);

  // The peer recovers: the queue, then its own reader from where the queue ended.
  await unlink(blocker);
  await waitFor(
    'every event in the slow destination',
    async () => {
      const found = await fileIds(join('blocked', 'slow.jsonl'));
      return ids.every((id) => found.has(id));
    },
    90_000,
  );
  await waitFor(
    'the slow destination attached again',
    async () => (await metric('muxly_router_detached', 'slow')) === 0,
  );
  await waitFor('the slow group at the end of the topic', () => atEnd(`${groupIdPrefix}slow`));

  // Attached again: new events reach both through the shared stream.
  const more = await produce(20);
  await waitFor('the new events in both destinations', async () => {
    const [fast, slow] = [await fileIds('fast.jsonl'), await fileIds(join('blocked', 'slow.jsonl'))];
    return more.every((id) => fast.has(id) && slow.has(id));
  });
  // No destination group has members: the positions are written for them, as lag tools expect.
  const described = await admin.describeGroups([`${groupIdPrefix}fast`, `${groupIdPrefix}slow`]);
  expect(described.groups.map((group) => group.members.length)).toEqual([0, 0]);
});
