import { RateLimiter } from './rate-limiter.ts';

test('a key may burst, then waits for the refill; keys are limited separately', () => {
  let now = 0;
  const limiter = new RateLimiter({ ratePerSecond: 10, burst: 3, now: () => now });
  expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
  expect(limiter.take('a')).toBe(100);
  expect(limiter.take('b')).toBe(0);
  now = 50;
  expect(limiter.take('a')).toBe(50);
  now = 100;
  expect(limiter.take('a')).toBe(0);
  expect(limiter.take('a')).toBe(100);
});

test('the bucket never holds more than the burst', () => {
  let now = 0;
  const limiter = new RateLimiter({ ratePerSecond: 1_000, burst: 2, now: () => now });
  now = 60_000;
  expect([limiter.take('a'), limiter.take('a')]).toEqual([0, 0]);
  expect(limiter.take('a')).toBeGreaterThan(0);
});

test('a rate of 0 turns the limit off', () => {
  const limiter = new RateLimiter({ ratePerSecond: 0, burst: 1 });
  for (let i = 0; i < 100; i++) expect(limiter.take('a')).toBe(0);
});
