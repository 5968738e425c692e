import { PermanentError, RetryableError, ThrottledError } from '@muxly/common';
import type { DeliveryItem } from './destination.ts';
import { sendInOrder } from './send-in-order.ts';

// The in-order send of email, Slack and webhook: what is sent before a failure stays delivered,
// a refused message fails alone, a transient failure stops the batch and leaves the rest unsent.

const batch = (length: number): DeliveryItem[] =>
  Array.from({ length }, (_, index) => ({
    event: { n: index },
    id: `api/x/${index}`,
    topic: 'events',
    partition: 0,
    offset: String(index),
  }));

/** A peer that answers each request from a script (undefined: accepted) and records what it got. */
function peer(answers: (Error | undefined)[]) {
  const received: number[][] = [];
  return {
    received,
    sendChunk: async (chunk: DeliveryItem[]) => {
      received.push(chunk.map((item) => (item.event as { n: number }).n));
      const answer = answers[received.length - 1];
      if (answer) throw answer;
    },
  };
}

const refused = new PermanentError('refused');
const outage = new RetryableError('outage');

test('every event accepted: one request each, in order, nothing to report', async () => {
  const { received, sendChunk } = peer([]);
  await expect(sendInOrder(batch(3), { peer: 'Test', signal: new AbortController().signal, sendChunk })).resolves.toBe(
    undefined,
  );
  expect(received).toEqual([[0], [1], [2]]);
});

test('a refused event fails alone and the next ones are still sent', async () => {
  const { received, sendChunk } = peer([undefined, refused]);
  const result = await sendInOrder(batch(4), { peer: 'Test', signal: new AbortController().signal, sendChunk });
  expect(result).toEqual({ failures: [{ index: 1, error: refused }] });
  expect(received).toEqual([[0], [1], [2], [3]]);
});

test('a transient failure stops the batch: earlier ones delivered, later ones not sent', async () => {
  const { received, sendChunk } = peer([undefined, refused, outage]);
  const result = await sendInOrder(batch(5), { peer: 'Test', signal: new AbortController().signal, sendChunk });
  expect(result).toEqual({
    failures: [
      { index: 1, error: refused },
      { index: 2, error: outage },
    ],
    notSent: [3, 4],
  });
  expect(received).toEqual([[0], [1], [2]]);
});

test('a transient failure of the whole batch is thrown, with its retry delay', async () => {
  const throttled = new ThrottledError('slow down', { retryAfterMs: 2000 });
  const { sendChunk } = peer([throttled]);
  await expect(sendInOrder(batch(1), { peer: 'Test', signal: new AbortController().signal, sendChunk })).rejects.toBe(
    throttled,
  );
});

test('chunks of several events fail and stop together', async () => {
  const { received, sendChunk } = peer([undefined, refused, outage]);
  const result = await sendInOrder(batch(7), {
    peer: 'Test',
    signal: new AbortController().signal,
    chunkSize: 2,
    sendChunk,
  });
  expect(received).toEqual([
    [0, 1],
    [2, 3],
    [4, 5],
  ]);
  expect(result).toEqual({
    failures: [
      { index: 2, error: refused },
      { index: 3, error: refused },
      { index: 4, error: outage },
      { index: 5, error: outage },
    ],
    notSent: [6],
  });
});

test('a stop sends nothing more: what was sent stays delivered', async () => {
  const controller = new AbortController();
  const received: number[] = [];
  const result = await sendInOrder(batch(4), {
    peer: 'Test',
    signal: controller.signal,
    sendChunk: async ([item]) => {
      received.push((item!.event as { n: number }).n);
      if (received.length === 2) controller.abort();
    },
  });
  expect(received).toEqual([0, 1]);
  expect(result).toEqual({
    failures: [{ index: 2, error: expect.objectContaining({ message: 'Test: stopping' }) }],
    notSent: [3],
  });
  expect(result!.failures![0]!.error).toBeInstanceOf(RetryableError);
});

test('stopped before the first send: the whole batch is retried', async () => {
  const controller = new AbortController();
  controller.abort();
  const { received, sendChunk } = peer([]);
  await expect(sendInOrder(batch(1), { peer: 'Test', signal: controller.signal, sendChunk })).rejects.toThrow(
    'Test: stopping',
  );
  expect(received).toEqual([]);
});
