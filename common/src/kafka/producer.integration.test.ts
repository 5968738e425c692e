import { Kafka, logLevel } from 'kafkajs';
import { testTopic } from '../../../test/support/kafka.ts';
import { KAFKA_BROKER, requireLocalStack, uniqueName, waitFor } from '../../../test/support/services.ts';
import { ensureTopics } from './admin.ts';
import { KafkaProducer } from './producer.ts';

// Against the real broker: an acknowledgement must mean the record was written, even right after
// a send the broker wrote only in part.

const kafka = new Kafka({ brokers: [KAFKA_BROKER], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const prefix = uniqueName('it-producer-');
const normal = `${prefix}.normal`;
const small = `${prefix}.small`;

beforeAll(async () => {
  await requireLocalStack();
  await admin.connect();
  await ensureTopics(kafka, [
    testTopic(normal),
    // Refuses anything over 1 KB: one produce request to both topics is then written in part.
    testTopic(small, [{ name: 'max.message.bytes', value: '1024' }]),
  ]);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [normal, small] }).catch(() => undefined);
  await admin.disconnect();
});

test('a send acknowledged right after a partly written failed send is in the topic (kafkajs alone would drop it as a duplicate)', async () => {
  const producer = new KafkaProducer(kafka);
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `${prefix}.reader` });
  const values: string[] = [];
  try {
    // One request, two partitions: the broker writes `normal`, refuses `small`. kafkajs reports the
    // whole send as failed and winds the sequence numbers of both partitions back.
    await expect(
      producer.send([
        { topic: normal, value: 'written, reported failed' },
        { topic: small, value: 'x'.repeat(4_096) },
      ]),
    ).rejects.toThrow(/larger than the max message size/);
    // With the numbers wound back, the broker would take this one for a retry of the record above.
    await producer.send([{ topic: normal, value: 'acknowledged' }]);
    await producer.send([{ topic: normal, value: 'acknowledged too' }]);

    await consumer.connect();
    await consumer.subscribe({ topic: normal, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(String(message.value)) });
    await waitFor('the last acknowledged record', async () => values.includes('acknowledged too'), 30_000);
    // The failed send's record stays (at-least-once); both acknowledged ones are there.
    expect(values).toEqual(['written, reported failed', 'acknowledged', 'acknowledged too']);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
});
