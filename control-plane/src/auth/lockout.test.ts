import { LoginLockout } from './lockout.ts';

const settings = { maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, windowSeconds: 60 };

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (seconds: number) => (now += seconds * 1000) };
}

test('the try over the account limit waits until the oldest counted failure leaves the window', () => {
  const time = clock();
  const lockout = new LoginLockout(settings, time.now);
  for (let attempt = 0; attempt < 3; attempt++) {
    expect(lockout.begin('Dave', '10.0.0.1')).toBe(0);
    time.advance(10);
  }
  // Failures at t=0, 10, 20 s; now t=30 s: the first leaves the window at t=60 s.
  expect(lockout.begin('dave', '10.0.0.2')).toBe(30);
  time.advance(30);
  expect(lockout.begin('dave', '10.0.0.2')).toBe(0);
});

test('tries are counted when they begin, so a burst cannot pass the check before the first failure is recorded', () => {
  const lockout = new LoginLockout(settings, clock().now);
  const answers = Array.from({ length: 10 }, () => lockout.begin('eve', '10.0.0.3'));
  expect(answers.filter((wait) => wait === 0)).toHaveLength(3);
  expect(answers.slice(3).every((wait) => wait > 0)).toBe(true);
});

test('a success clears the account but only uncounts its own try from the address', () => {
  const lockout = new LoginLockout(settings, clock().now);
  for (let attempt = 0; attempt < 2; attempt++) lockout.begin('frank', '10.0.0.4');
  expect(lockout.begin('frank', '10.0.0.4')).toBe(0);
  lockout.recordSuccess('frank', '10.0.0.4');
  // The account starts over...
  for (let attempt = 0; attempt < 2; attempt++) expect(lockout.begin('frank', '10.0.0.9')).toBe(0);
  // ...the address still holds the two failed guesses: three more reach its limit of five.
  for (let attempt = 0; attempt < 3; attempt++) expect(lockout.begin(`other-${attempt}`, '10.0.0.4')).toBe(0);
  expect(lockout.begin('someone-else', '10.0.0.4')).toBeGreaterThan(0);
});
