import { Kafka, KafkaJSNonRetriableError, logLevel } from 'kafkajs';
import { testTopic } from '../../../test/support/kafka.ts';
import { KAFKA_BROKER, requireLocalStack, uniqueName, waitFor } from '../../../test/support/services.ts';
import { createMetricsRegistry, startHealthServer } from '../observability/health-server.ts';
import { createLogger } from '../observability/logger.ts';
import { ProgressTracker } from '../observability/progress.ts';
import { ensureTopics } from './admin.ts';
import { BatchConsumer } from './consumer.ts';

// Against the real broker: a consumer loop held without progress while records wait turns
// /healthz to 503 with its reason, and a loop that kafkajs gives up on is re-created by itself.

const kafka = new Kafka({ brokers: [KAFKA_BROKER], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const topic = uniqueName('it-liveness-');
const crashTopic = `${topic}.crash`;
const logger = createLogger({ service: 'test', level: 'error' });

beforeAll(async () => {
  await requireLocalStack();
  await admin.connect();
  await ensureTopics(kafka, [testTopic(topic), testTopic(crashTopic)]);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, crashTopic] }).catch(() => undefined);
  await admin.disconnect();
});

async function produce(to: string, values: string[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: to, messages: values.map((value) => ({ value })) });
  await producer.disconnect();
}

async function healthz(port: number): Promise<{ status: number; body: { status: string; stalled?: unknown[] } }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: response.status, body: (await response.json()) as { status: string; stalled?: unknown[] } };
}

test('a loop held without progress while records wait answers /healthz 503 with its reason, then 200 once it moves', async () => {
  const registry = createMetricsRegistry('test');
  const progress = new ProgressTracker({ stallAfterMs: 1_500, registry });
  const groupId = uniqueName('it-liveness-held-');
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const handled: string[] = [];
  const consumer = new BatchConsumer(kafka, { groupId, topics: [topic], chunkSize: 1, progress, logger });
  const health = await startHealthServer({ host: '127.0.0.1', port: 0, registry, readiness: {}, progress });
  try {
    await consumer.start(async (messages) => {
      // A promise nothing settles: the hazard of a loop that waits forever.
      await held;
      handled.push(...messages.map((message) => message.value!.toString()));
    });
    await produce(topic, ['one', 'two', 'three']);

    const stalled = await waitFor('/healthz to report the held loop', async () => {
      const answer = await healthz(health.port);
      return answer.status === 503 ? answer.body : undefined;
    });
    expect(stalled.status).toBe('stalled');
    expect(stalled.stalled).toEqual([
      {
        consumer: groupId,
        reason: expect.stringMatching(/^\d+ records waiting and no progress for \d+ s \(running\)$/),
      },
    ]);
    expect(await registry.metrics()).toMatch(
      new RegExp(`muxly_consumer_seconds_since_progress\\{consumer="${groupId}",service="test"\\} [1-9]`),
    );

    release();
    await waitFor('every record handled', async () => handled.length === 3);
    expect(handled).toEqual(['one', 'two', 'three']);
    await waitFor('/healthz to answer 200 again', async () => (await healthz(health.port)).status === 200);
  } finally {
    release();
    await consumer.stop();
    await health.close();
  }
});

test('a loop that stopped on a non-retriable error is re-created and goes on from the last commit', async () => {
  const progress = new ProgressTracker({ stallAfterMs: 60_000 });
  const groupId = uniqueName('it-liveness-crash-');
  const handled: string[] = [];
  let failures = 0;
  const consumer = new BatchConsumer(kafka, { groupId, topics: [crashTopic], chunkSize: 1, progress, logger });
  try {
    await produce(crashTopic, ['one', 'two', 'three']);
    await consumer.start(async (messages) => {
      const value = messages[0]!.value!.toString();
      // What kafkajs throws for a failed transaction abort or a fenced producer: it does not
      // restart the consumer after it, so without re-creation the loop would stay dead.
      if (value === 'two' && failures === 0) {
        failures += 1;
        throw new KafkaJSNonRetriableError('the handler failed once');
      }
      handled.push(value);
    });
    const firstConsumer = consumer.consumer;
    await waitFor('the three records handled after the re-creation', async () => handled.length >= 3, 60_000);
    expect(failures).toBe(1);
    // Offsets committed before the crash are not read again: 'one' once, then 'two' and 'three'.
    expect(handled).toEqual(['one', 'two', 'three']);
    expect(consumer.consumer).not.toBe(firstConsumer);
    await expect(progress.readiness()).resolves.toBeUndefined();
  } finally {
    await consumer.stop();
  }
});
