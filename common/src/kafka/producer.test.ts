import type { Kafka, Message, PartitionerArgs, PartitionMetadata, Producer } from 'kafkajs';
import { RetryableError } from '../errors.ts';
import { KafkaProducer, stickyPartitioner } from './producer.ts';

/** A stand-in for kafkajs: every producer it creates records its sends, settled by the test. */
function manualKafka() {
  const producers: {
    connects: number;
    disconnected: boolean;
    sends: { values: string[]; settle: (error?: Error) => void }[];
    failConnect?: Error;
  }[] = [];
  let nextConnectError: Error | undefined;
  const kafka = {
    producer: () => {
      const state: (typeof producers)[number] = { connects: 0, disconnected: false, sends: [] };
      producers.push(state);
      return {
        connect: async () => {
          state.connects += 1;
          const error = nextConnectError;
          nextConnectError = undefined;
          if (error) throw error;
        },
        disconnect: async () => void (state.disconnected = true),
        sendBatch: ({ topicMessages }: { topicMessages: { messages: Message[] }[] }) =>
          new Promise((resolve, reject) =>
            state.sends.push({
              values: topicMessages.flatMap((topic) => topic.messages.map((message) => String(message.value))),
              settle: (error) => (error ? reject(error) : resolve([])),
            }),
          ),
      } as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, producers, failNextConnect: (error: Error) => (nextConnectError = error) };
}
const tick = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

test('sends run one at a time, in call order', async () => {
  const { kafka, producers } = manualKafka();
  const producer = new KafkaProducer(kafka);
  await producer.connect();
  const first = producer.send([{ topic: 't', value: 'a' }]);
  const second = producer.send([{ topic: 't', value: 'b' }]);
  await tick();
  expect(producers[0]!.sends.map((send) => send.values)).toEqual([['a']]);
  producers[0]!.sends[0]!.settle();
  await first;
  await tick();
  expect(producers[0]!.sends.map((send) => send.values)).toEqual([['a'], ['b']]);
  producers[0]!.sends[1]!.settle();
  await second;
  expect(producers).toHaveLength(1);
});

test('after a failed send, the next one goes through a new producer (a new producer id); the old one is closed', async () => {
  const { kafka, producers } = manualKafka();
  const producer = new KafkaProducer(kafka);
  await producer.connect();
  const failing = producer.send([{ topic: 't', value: 'a' }]);
  await tick();
  producers[0]!.sends[0]!.settle(new Error('NOT_LEADER_OR_FOLLOWER on one partition'));
  await expect(failing).rejects.toThrow(RetryableError);

  const next = producer.send([{ topic: 't', value: 'b' }]);
  await tick();
  expect(producers).toHaveLength(2);
  expect(producers[1]!.connects).toBe(1);
  expect(producers[0]!.disconnected).toBe(true);
  expect(producers[0]!.sends).toHaveLength(1);
  expect(producers[1]!.sends.map((send) => send.values)).toEqual([['b']]);
  producers[1]!.sends[0]!.settle();
  await next;

  // A success leaves the producer id as it is.
  const third = producer.send([{ topic: 't', value: 'c' }]);
  await tick();
  producers[1]!.sends[1]!.settle();
  await third;
  expect(producers).toHaveLength(2);
});

test('when the new producer cannot connect, the send fails as retryable and the next send tries again', async () => {
  const { kafka, producers, failNextConnect } = manualKafka();
  const producer = new KafkaProducer(kafka);
  await producer.connect();
  const failing = producer.send([{ topic: 't', value: 'a' }]);
  await tick();
  producers[0]!.sends[0]!.settle(new Error('connection closed'));
  await expect(failing).rejects.toThrow(RetryableError);

  failNextConnect(new Error('ECONNREFUSED'));
  await expect(producer.send([{ topic: 't', value: 'b' }])).rejects.toThrow(/Kafka is unavailable: ECONNREFUSED/);
  expect(producers).toHaveLength(2);
  expect(producers[1]!.disconnected).toBe(true);

  const retried = producer.send([{ topic: 't', value: 'c' }]);
  await tick();
  expect(producers).toHaveLength(3);
  expect(producers[2]!.sends.map((send) => send.values)).toEqual([['c']]);
  producers[2]!.sends[0]!.settle();
  await retried;
});

test('a send whose deadline passes while it waits for its turn is never sent; one already with kafkajs is awaited', async () => {
  const { kafka, producers } = manualKafka();
  const producer = new KafkaProducer(kafka, { sendTimeoutMs: 30 });
  await producer.connect();
  const started = producer.send([{ topic: 't', value: 'with kafkajs' }]);
  const queued = producer.send([{ topic: 't', value: 'queued' }]);
  await expect(started).rejects.toThrow(/did not acknowledge within 30 ms/);
  await expect(queued).rejects.toThrow(/did not acknowledge within 30 ms/);
  // sendAndWait has no deadline: it waits behind the send kafkajs still retries.
  const waiting = producer.sendAndWait([{ topic: 't', value: 'patient' }]);
  producers[0]!.sends[0]!.settle();
  await tick();
  expect(producers[0]!.sends.map((send) => send.values)).toEqual([['with kafkajs'], ['patient']]);
  producers[0]!.sends[1]!.settle();
  await waiting;
});

test('after disconnect, queued sends fail instead of opening a new connection', async () => {
  const { kafka, producers } = manualKafka();
  const producer = new KafkaProducer(kafka);
  await producer.connect();
  const failing = producer.sendAndWait([{ topic: 't', value: 'a' }]);
  const queued = producer.sendAndWait([{ topic: 't', value: 'b' }]);
  await tick();
  await producer.disconnect();
  producers[0]!.sends[0]!.settle(new Error('disconnected'));
  await expect(failing).rejects.toThrow(RetryableError);
  await expect(queued).rejects.toThrow(/closed/);
  expect(producers).toHaveLength(1);
});

describe('the sticky partitioner', () => {
  const metadata = (ids: number[]) => ids.map((partitionId) => ({ partitionId, leader: 1 }) as PartitionMetadata);
  const call = (partition: (args: PartitionerArgs) => number, message: Message, ids = [0, 1, 2]) =>
    partition({ topic: 't', partitionMetadata: metadata(ids), message });

  test('a keyless record keeps its first partition on every retry, while new records still rotate', () => {
    const partition = stickyPartitioner();
    const messages = Array.from({ length: 6 }, (_, index) => ({ value: `m${index}` }) as Message);
    const first = messages.map((message) => call(partition, message));
    expect(new Set(first)).toEqual(new Set([0, 1, 2]));
    for (let retry = 0; retry < 3; retry++) expect(messages.map((message) => call(partition, message))).toEqual(first);
  });

  test('keyed records and explicit partitions are placed as by kafkajs (murmur2 of the key)', () => {
    const partition = stickyPartitioner();
    const keyed = { key: 'checkout.latency|region=eu', value: 'x' } as Message;
    const placed = call(partition, keyed);
    expect(call(partition, { key: 'checkout.latency|region=eu', value: 'y' } as Message)).toBe(placed);
    expect(call(partition, { partition: 2, value: 'z' } as Message)).toBe(2);
  });

  test('a record whose partition vanished from the metadata is placed again', () => {
    const partition = stickyPartitioner();
    const message = { value: 'm' } as Message;
    const first = call(partition, message, [0, 1, 2]);
    const remaining = [0, 1, 2].filter((id) => id !== first);
    expect(remaining).toContain(call(partition, message, remaining));
  });
});
