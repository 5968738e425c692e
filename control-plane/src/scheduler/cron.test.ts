import { jest } from '@jest/globals';
import { createLogger } from '@muxly/common';
import { CronScheduler, jobNextRuns, nextRunTimes } from './cron.ts';

// Cron timing across daylight-saving changes, with a controlled clock: jest's fake timers drive
// node-schedule's real timers and Date, so these are the instants the scheduler really fires.

const logger = createLogger({ service: 'test', silent: true });

/** Runs a real CronScheduler from `start` for `hours` of fake time; returns the fire instants (UTC). */
async function fires(schedule: string, timezone: string, start: string, hours: number): Promise<string[]> {
  jest.useFakeTimers({ now: new Date(start) });
  const fired: string[] = [];
  const scheduler = new CronScheduler({
    logger,
    onTick: async (_jobId, scheduledFor) =>
      void fired.push(`${scheduledFor.toISOString()}@${new Date().toISOString()}`),
  });
  try {
    scheduler.reconcile([{ id: 'job', schedule, timezone }]);
    await jest.advanceTimersByTimeAsync(hours * 3_600_000);
  } finally {
    scheduler.stop();
    jest.useRealTimers();
  }
  // Each entry is "scheduled instant@clock when it fired": they must agree.
  for (const entry of fired) {
    const [scheduled, at] = entry.split('@') as [string, string];
    expect(Math.abs(Date.parse(at) - Date.parse(scheduled))).toBeLessThan(1_000);
  }
  return fired.map((entry) => entry.split('@')[0]!);
}

describe('0 2 * * * in Europe/Berlin', () => {
  test('spring-forward day (2026-03-29, 02:00 does not exist): fires once, at 03:00 CEST, then 02:00 CEST', async () => {
    expect(await fires('0 2 * * *', 'Europe/Berlin', '2026-03-28T00:30:00Z', 70)).toEqual([
      '2026-03-28T01:00:00.000Z', // 02:00 CET
      '2026-03-29T01:00:00.000Z', // the gap: 03:00 CEST, the first instant after 02:00 CET would be
      '2026-03-30T00:00:00.000Z', // 02:00 CEST
    ]);
  });

  test('fall-back day (2026-10-25, 02:00 happens twice): fires once', async () => {
    expect(await fires('0 2 * * *', 'Europe/Berlin', '2026-10-24T00:30:00Z', 72)).toEqual(
      [
        '2026-10-24T00:00:00.000Z', // 02:00 CEST (before the start: filtered out)
        '2026-10-25T00:00:00.000Z', // first 02:00 (CEST); the second 02:00 (CET, 01:00Z) does not fire
        '2026-10-26T01:00:00.000Z', // 02:00 CET
      ].filter((time) => time >= '2026-10-24T00:30:00.000Z'),
    );
  });
});

describe('30 1 * * * in America/New_York', () => {
  test('spring-forward day (2026-03-08): 01:30 exists and fires once, EST then EDT', async () => {
    expect(await fires('30 1 * * *', 'America/New_York', '2026-03-07T00:00:00Z', 72)).toEqual([
      '2026-03-07T06:30:00.000Z', // 01:30 EST
      '2026-03-08T06:30:00.000Z', // 01:30 EST, half an hour before the clocks jump
      '2026-03-09T05:30:00.000Z', // 01:30 EDT
    ]);
  });

  test('fall-back day (2026-11-01, 01:30 happens twice): fires once', async () => {
    expect(await fires('30 1 * * *', 'America/New_York', '2026-10-31T00:00:00Z', 72)).toEqual([
      '2026-10-31T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T05:30:00.000Z', // first 01:30 (EDT); the second (EST, 06:30Z) does not fire
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ]);
  });
});

test('a sub-daily schedule keeps firing every real half hour through the repeated hour', async () => {
  expect(await fires('*/30 * * * *', 'Europe/Berlin', '2026-10-25T00:10:00Z', 2)).toEqual([
    '2026-10-25T00:30:00.000Z', // 02:30 CEST
    '2026-10-25T01:00:00.000Z', // 02:00 CET
    '2026-10-25T01:30:00.000Z', // 02:30 CET
    '2026-10-25T02:00:00.000Z', // 03:00 CET
  ]);
});

test('a seconds-level expression fires every 5 seconds', async () => {
  expect(await fires('*/5 * * * * *', 'UTC', '2026-05-01T10:00:01Z', 15 / 3600)).toEqual([
    '2026-05-01T10:00:05.000Z',
    '2026-05-01T10:00:10.000Z',
    '2026-05-01T10:00:15.000Z',
  ]);
});

test('reconcile cancels removed and changed schedules', async () => {
  jest.useFakeTimers({ now: new Date('2026-05-01T10:00:00Z') });
  const fired: string[] = [];
  const scheduler = new CronScheduler({ logger, onTick: async (jobId) => void fired.push(jobId) });
  try {
    scheduler.reconcile([
      { id: 'a', schedule: '*/10 * * * * *', timezone: 'UTC' },
      { id: 'b', schedule: '*/10 * * * * *', timezone: 'UTC' },
    ]);
    await jest.advanceTimersByTimeAsync(15_000);
    scheduler.reconcile([{ id: 'a', schedule: '0 0 * * *', timezone: 'UTC' }]);
    await jest.advanceTimersByTimeAsync(30_000);
  } finally {
    scheduler.stop();
    jest.useRealTimers();
  }
  expect(fired.sort()).toEqual(['a', 'b']);
});

test('next run times shown by the API follow the time zone; none when disabled or unscheduled', () => {
  const now = new Date('2026-03-28T12:00:00Z');
  expect(jobNextRuns({ schedule: '0 2 * * *', timezone: 'Europe/Berlin', enabled: true }, now)).toEqual({
    nextRunAt: '2026-03-29T01:00:00.000Z',
    nextRuns: ['2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z', '2026-03-31T00:00:00.000Z'],
  });
  expect(jobNextRuns({ schedule: '0 2 * * *', timezone: 'Europe/Berlin', enabled: false }, now)).toEqual({
    nextRunAt: null,
    nextRuns: [],
  });
  expect(jobNextRuns({ schedule: null, timezone: 'UTC', enabled: true }, now)).toEqual({
    nextRunAt: null,
    nextRuns: [],
  });
  expect(nextRunTimes('not a cron', 'UTC')).toEqual([]);
});
