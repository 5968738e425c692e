import { backoffSeconds } from './backoff.ts';

test.each([
  [{}, 1, 30],
  [{}, 2, 60],
  [{}, 3, 120],
  [{ initialSeconds: 1, multiplier: 3 }, 3, 9],
  [{ initialSeconds: 10, maxSeconds: 25, multiplier: 2 }, 3, 25],
  [{ initialSeconds: 5, multiplier: 1 }, 7, 5],
])('backoff %j before retry %d is %d s', (backoff, retry, expected) => {
  expect(backoffSeconds(backoff, retry)).toBe(expected);
});
