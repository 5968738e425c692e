import { createKafka, createLogger, ensureTopics, SecretKeyring } from '@muxly/common';
import type { PipelineDefinition } from '../pipeline/pipeline.ts';
import { randomSuffix } from '../destinations/test-context.ts';
import { LiveConfig } from './live-config.ts';
import { deleteTopicsAndGroups, testTopic } from '../../../test/support/kafka.ts';
import { waitFor } from '../../../test/support/services.ts';

// Peer: the local stack's Kafka (127.0.0.1:9092), a fresh compacted config topic per run.

const brokers = (process.env.MUXLY_KAFKA__BROKERS ?? '127.0.0.1:9092').split(',');
const logger = createLogger({ service: 'router-test', silent: true });
const kafka = createKafka(
  { brokers, clientId: 'router-live-config-test', ssl: false, connectionTimeoutMs: 3000, requestTimeoutMs: 10_000 },
  logger,
);
const topic = `muxly-test.config.${randomSuffix()}`;
const keyring = new SecretKeyring({ keys: [{ id: 'k1', key: Buffer.alloc(32, 3).toString('base64') }] });
// The raw client: tombstones (null values) are what the control plane writes on deletion.
const producer = kafka.producer();
const applied: PipelineDefinition[] = [];
let live: LiveConfig | undefined;

const send = (records: { key: string; value: unknown }[]) =>
  producer.send({
    topic,
    acks: -1,
    messages: records.map(({ key, value }) => ({ key, value: value === null ? null : JSON.stringify(value) })),
  });

const until = <T>(what: string, check: () => T | undefined, timeoutMs = 20_000) => waitFor(what, check, timeoutMs, 100);

beforeAll(async () => {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `Kafka is not reachable at ${brokers.join(',')} (${(error as Error).message}); start it with npm run stack:start`,
    );
  }
  await ensureTopics(kafka, [testTopic(topic, [{ name: 'cleanup.policy', value: 'compact' }])]);
  await admin.disconnect();
  await producer.connect();
});

afterAll(async () => {
  await live?.stop();
  await producer.disconnect();
  await deleteTopicsAndGroups(brokers, { topics: [topic] });
});

test('applies the topic at start, then live changes and deletions, with decrypted credentials', async () => {
  const destination = (version: number, channel: string) => ({
    kind: 'destination',
    id: 'alerts',
    version,
    object: {
      id: 'alerts',
      name: 'Alerts',
      type: 'slack',
      enabled: true,
      config: { channel, text: '{{ $.name }}' },
      credentials: keyring.encrypt({ token: 'xoxb-1' }, 'destination/alerts'),
    },
  });
  const rule = {
    kind: 'rule',
    id: 'signups',
    version: 1,
    object: {
      id: 'signups',
      name: 'Signups',
      priority: 10,
      enabled: true,
      condition: { path: '$.name', op: 'eq', value: 'signup' },
      transformations: [],
      destinationIds: ['alerts'],
      stopOnMatch: false,
    },
  };
  await send([
    { key: 'destination/alerts', value: destination(1, 'C1') },
    { key: 'rule/signups', value: rule },
    { key: 'connector/ignored', value: { kind: 'connector', id: 'ignored', version: 1, object: {} } },
  ]);

  live = new LiveConfig({
    kafka,
    topic,
    keyring,
    base: { destinations: [], rules: [] },
    logger,
    debounceMs: 50,
    onChange: async (pipeline) => {
      applied.push(structuredClone(pipeline));
    },
  });
  await live.start();
  // start() resolves after the records present at start were applied, in one apply.
  expect(applied).toHaveLength(1);
  expect(applied[0]!.destinations).toEqual([
    {
      id: 'alerts',
      name: 'Alerts',
      type: 'slack',
      enabled: true,
      config: { channel: 'C1', text: '{{ $.name }}', token: 'xoxb-1' },
    },
  ]);
  expect(applied[0]!.rules.map((entry) => entry.id)).toEqual(['signups']);

  await send([{ key: 'destination/alerts', value: destination(2, 'C2') }]);
  const changed = await until('the live change', () =>
    applied.find((pipeline) => pipeline.destinations[0]?.config.channel === 'C2'),
  );
  expect(changed.destinations[0]!.config.token).toBe('xoxb-1');

  await send([{ key: 'rule/signups', value: null }]);
  await until('the deletion', () => applied.find((pipeline) => pipeline.rules.length === 0));
}, 60_000);

test('without the config topic the router keeps its settings pipeline and says so', async () => {
  const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
  const recording = {
    ...logger,
    warn: (message: string, fields?: Record<string, unknown>) => warnings.push({ message, fields }),
  };
  const changes: PipelineDefinition[] = [];
  const missing = new LiveConfig({
    kafka,
    topic: `${topic}.missing`,
    keyring,
    base: { destinations: [], rules: [] },
    logger: recording,
    onChange: async (pipeline) => void changes.push(pipeline),
  });
  await missing.start();
  await missing.stop();
  expect(warnings).toEqual([
    {
      message: 'live config: the config topic cannot be read; running the settings file pipeline without live reload',
      fields: { topic: `${topic}.missing`, error: 'the topic does not exist' },
    },
  ]);
  // start() resolved without following anything: no pipeline replaced the settings file's.
  expect(changes).toEqual([]);
}, 30_000);
