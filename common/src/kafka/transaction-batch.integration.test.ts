import { Kafka, logLevel } from 'kafkajs';
import { KAFKA_BROKER, requireLocalStack, uniqueName } from '../../../test/support/services.ts';
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
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
});

test('offsets-only transactions right after a commit all commit, and the group ends at the last offset', async () => {
  const producer = kafka.producer({
    transactionalId: `${topic}.producer`,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { initialRetryTime: 20, retries: 8 },
  });
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
