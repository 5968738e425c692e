import { RetryableError, type KafkaProducer } from '@muxly/common';
import { BacklogFullError, RawWriter } from './raw.writer.ts';

/** A producer whose sends the test settles by hand. */
function manualProducer() {
  const sends: { messages: { value: string }[]; settle: (error?: Error) => void }[] = [];
  const producer = {
    sendAndWait: (messages: { value: string }[]) =>
      new Promise<void>((resolve, reject) =>
        sends.push({ messages, settle: (error) => (error ? reject(error) : resolve()) }),
      ),
  } as unknown as KafkaProducer;
  return { producer, sends };
}
const tick = () => new Promise((resolve) => setImmediate(resolve));

test('records of concurrent requests queue behind the send in flight and go together in the next one', async () => {
  const { producer, sends } = manualProducer();
  const writer = new RawWriter(producer, { topic: 't', sendTimeoutMs: 5_000, maxInFlight: 100 });
  const first = writer.write('a');
  const rest = [writer.write('b'), writer.write('c')];
  await tick();
  expect(sends.map((send) => send.messages.map((message) => message.value))).toEqual([['a']]);
  sends[0]!.settle();
  await first;
  await tick();
  expect(sends[1]!.messages.map((message) => message.value)).toEqual(['b', 'c']);
  sends[1]!.settle();
  await Promise.all(rest);
  expect(writer.inFlight).toBe(0);
});

test('a failed send fails every request of its batch, as retryable', async () => {
  const { producer, sends } = manualProducer();
  const writer = new RawWriter(producer, { topic: 't', sendTimeoutMs: 5_000, maxInFlight: 100 });
  const write = writer.write('a');
  await tick();
  sends[0]!.settle(new Error('broker gone'));
  await expect(write).rejects.toThrow(RetryableError);
  expect(writer.inFlight).toBe(0);
});

test('beyond the in-flight cap a write is refused at once; a queued write that timed out is never sent', async () => {
  const { producer, sends } = manualProducer();
  const writer = new RawWriter(producer, { topic: 't', sendTimeoutMs: 50, maxInFlight: 2 });
  const inKafka = writer.write('sent');
  const queued = writer.write('queued');
  await expect(writer.write('over')).rejects.toThrow(BacklogFullError);
  await expect(queued).rejects.toThrow(/did not acknowledge within 50 ms/);
  await expect(inKafka).rejects.toThrow(/did not acknowledge/);
  // The first record is with kafkajs and still counts; the queued one is dropped when the send ends.
  expect(writer.inFlight).toBe(2);
  sends[0]!.settle();
  await tick();
  await tick();
  expect(sends).toHaveLength(1);
  expect(writer.inFlight).toBe(0);
});

test('one produce request carries at most maxBatchBytes (a larger record goes alone)', async () => {
  const { producer, sends } = manualProducer();
  const writer = new RawWriter(producer, { topic: 't', sendTimeoutMs: 5_000, maxInFlight: 100, maxBatchBytes: 10 });
  const writes = [writer.write('first'), writer.write('12345'), writer.write('67890'), writer.write('x'.repeat(20))];
  for (let i = 0; i < 4; i++) {
    await tick();
    sends[i]?.settle();
  }
  await Promise.all(writes);
  expect(sends.map((send) => send.messages.map((message) => message.value.length))).toEqual([[5], [5, 5], [20]]);
});

test("a write's traceparent travels as the record's header; a write without one has no headers", async () => {
  const { producer, sends } = manualProducer();
  const writer = new RawWriter(producer, { topic: 't', sendTimeoutMs: 5_000, maxInFlight: 100 });
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const written = [writer.write('a', traceparent), writer.write('b')];
  await tick();
  sends[0]!.settle();
  await tick();
  sends[1]?.settle();
  await Promise.all(written);
  const records = sends.flatMap((send) => send.messages) as { value: string; headers?: Record<string, string> }[];
  expect(records.map((record) => [record.value, record.headers])).toEqual([
    ['a', { traceparent }],
    ['b', undefined],
  ]);
});
