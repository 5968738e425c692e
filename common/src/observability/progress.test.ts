import { Registry } from 'prom-client';
import { ProgressTracker } from './progress.ts';

// The clock is a variable: the rule is about elapsed time, tested without waiting for it.
let now = 1_000_000;
const clock = () => now;

test('a consumer with records waiting and no progress past stallAfterMs is stalled, with the reason', async () => {
  const tracker = new ProgressTracker({ stallAfterMs: 10_000, now: clock });
  const progress = tracker.track('group-a', async () => 42);
  progress.running(true);
  now += 9_000;
  expect(await tracker.stalled()).toEqual([]);
  now += 2_000;
  expect(await tracker.stalled()).toEqual([
    { consumer: 'group-a', reason: '42 records waiting and no progress for 11 s (running)' },
  ]);
  progress.advanced();
  expect(await tracker.stalled()).toEqual([]);
});

test('an idle consumer, one whose lag cannot be measured, and one deliberately waiting are not stalled', async () => {
  const tracker = new ProgressTracker({ stallAfterMs: 1_000, now: clock });
  tracker.track('caught-up', async () => 0).running(true);
  tracker.track('broker-away', () => Promise.reject(new Error('connection refused'))).running(true);
  const waiting = tracker.track('retrying', async () => 5);
  waiting.running(true);
  now += 5_000;
  waiting.working();
  expect(await tracker.stalled()).toEqual([]);
});

test('a crashed consumer is not ready, says why, and its stall reason says it is not running', async () => {
  const tracker = new ProgressTracker({ stallAfterMs: 1_000, now: clock });
  const progress = tracker.track('group-b', async () => 3);
  progress.running(true);
  await expect(tracker.readiness()).resolves.toBeUndefined();
  progress.running(false, 'crashed (The coordinator is loading); being re-created');
  await expect(tracker.readiness()).rejects.toThrow('group-b: crashed (The coordinator is loading); being re-created');
  now += 2_000;
  expect((await tracker.stalled())[0]?.reason).toContain('not running: crashed (The coordinator is loading)');
  // Rejoining restarts the clock: the time away was not a stall of the loop.
  progress.running(true);
  expect(await tracker.stalled()).toEqual([]);
  tracker.untrack('group-b');
  now += 5_000;
  expect(await tracker.stalled()).toEqual([]);
});

test('the metric shows the seconds since the last progress per consumer', async () => {
  const registry = new Registry();
  const tracker = new ProgressTracker({ stallAfterMs: 1_000, registry, now: clock });
  tracker.track('group-c', async () => 0).idle();
  now += 7_500;
  const text = await registry.metrics();
  expect(text).toContain('muxly_consumer_seconds_since_progress{consumer="group-c"} 7.5');
});
