import { retryDelayMs, sleep } from './backoff.ts';

const policy = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 };

test.each([
  // attempt, random, expected
  [1, 0, 50],
  [1, 1, 100],
  [2, 1, 200],
  [3, 0.5, 300],
  [10, 1, 1_000],
  [10, 0, 500],
])('retry %i with random %d waits %i ms', (attempt, random, expected) => {
  expect(retryDelayMs(policy, attempt, undefined, () => random)).toBe(expected);
});

test('Retry-After longer than the backoff wins', () => {
  expect(retryDelayMs(policy, 1, 3_000, () => 0)).toBe(3_000);
});

test('Retry-After shorter than the backoff does not shorten it', () => {
  expect(retryDelayMs(policy, 4, 10, () => 1)).toBe(800);
});

test('sleep rejects as soon as its signal aborts', async () => {
  const controller = new AbortController();
  const pending = sleep(60_000, controller.signal);
  controller.abort(new Error('stopping'));
  await expect(pending).rejects.toThrow('stopping');
});
