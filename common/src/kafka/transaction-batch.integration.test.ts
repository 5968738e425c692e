import { Kafka, logLevel } from 'kafkajs';
import { testTopic } from '../../../test/support/kafka.ts';
import { KAFKA_BROKER, requireLocalStack, uniqueName } from '../../../test/support/services.ts';
import { ensureTopics } from './admin.ts';
import { TransactionBatch, type TransactionalOutput } from './transaction-batch.ts';

// Against the real broker: a transaction that carries only consumed offsets (every input was a
// duplicate, so nothing is written) commits even when it begins right after the previous commit,
// while the broker is still writing that commit's markers and answers CONCURRENT_TRANSACTIONS.

const kafka = new Kafka({ brokers: [KAFKA_BROKER], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const topic = uniqueName('it-txn-batch-');
const groupId = `${topic}.group`;

beforeAll(async () => {
  await requireLocalStack();
  await admin.connect();
  await ensureTopics(kafka, [testTopic(topic)]);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
});

/** A transactional producer set up as the transformer's session sets up its own. */
const transactionalProducer = (transactionalId: string) =>
  kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { initialRetryTime: 20, retries: 8 },
  });

test('offsets-only transactions right after a commit all commit, and the group ends at the last offset', async () => {
  const producer = transactionalProducer(`${topic}.producer`);
  await producer.connect();
  const sendFailures: Error[] = [];
  const commitOne = async (output: TransactionalOutput, offset: number) => {
    const batch = new TransactionBatch<TransactionalOutput>((error) => sendFailures.push(error));
    batch.add(output, { topic, partition: 0 }, String(offset));
    batch.begin(await producer.transaction());
    await batch.commit(groupId);
  };
  try {
    // Without retrying AddOffsetsToTxn, about a third of these failed on this machine kind.
    for (let round = 0; round < 40; round += 1) {
      await commitOne({ records: [{ topic, value: Buffer.from(`record ${round}`) }] }, 2 * round);
      await commitOne({ records: [] }, 2 * round + 1);
    }
  } finally {
    await producer.disconnect();
  }
  expect(sendFailures).toEqual([]);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  expect(committed!.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '80' })]);
});

test('records go out while the transaction fills: 64 KB at once, more only when that send was answered', async () => {
  const producer = transactionalProducer(`${topic}.eager`);
  // A read_uncommitted reader sees records as they are appended, before their transaction commits.
  const reader = kafka.consumer({ groupId: `${topic}.reader`, readUncommitted: true, maxWaitTimeInMs: 50 });
  let appended = 0;
  await Promise.all([producer.connect(), reader.connect()]);
  await reader.subscribe({ topic, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      if (message.value?.length === 1_000) appended += 1;
    },
  });
  const sendFailures: Error[] = [];
  const output = (count: number): TransactionalOutput => ({
    records: Array.from({ length: count }, () => ({ topic, value: Buffer.alloc(1_000, 'x') })),
  });
  const appendedAtLeast = async (count: number) => {
    for (let waited = 0; appended < count && waited < 200; waited += 1)
      await new Promise((resolve) => setTimeout(resolve, 50));
  };
  try {
    const batch = new TransactionBatch<TransactionalOutput>((error) => sendFailures.push(error));
    batch.begin(await producer.transaction());
    // 70 records of 1 KB: past 64 KB with nothing in flight, so they are handed to the producer now.
    expect(batch.add(output(70), { topic, partition: 0 }, '0')).toBe(true);
    // While that send is in flight, the next 70 KB wait (a full 900 KB piece would not).
    expect(batch.add(output(70), { topic, partition: 0 }, '1')).toBe(false);
    // The first 70 are appended long before the commit.
    await appendedAtLeast(70);
    expect(appended).toBe(70);
    for (let waited = 0; batch.sendsInFlight > 0 && waited < 200; waited += 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    // Answered: the waiting records and one more go out together at once.
    expect(batch.add(output(1), { topic, partition: 0 }, '2')).toBe(true);
    await appendedAtLeast(141);
    expect(appended).toBe(141);
    await batch.commit(groupId);
  } finally {
    await Promise.all([producer.disconnect(), reader.disconnect()]);
    await admin.deleteGroups([`${topic}.reader`]).catch(() => undefined);
  }
  expect(sendFailures).toEqual([]);
});
