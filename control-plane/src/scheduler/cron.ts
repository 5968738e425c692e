import cronParser from 'cron-parser';
import schedule from 'node-schedule';
import type { MikroORM } from '@mikro-orm/postgresql';
import { errorMessage, type Logger } from '@muxly/common';

// Cron schedules: node-schedule fires each enabled job's cron expression in the job's IANA time
// zone. node-schedule computes the instants with cron-parser, which works in the zone's wall
// clock, so daylight-saving changes behave as users expect (checked in cron.test.ts):
//   - a local time skipped by spring-forward fires once, at the first instant after the gap
//     (0 2 * * * in Europe/Berlin on the last Sunday of March fires at 03:00 CEST);
//   - a local time repeated by fall-back fires once, at its first occurrence.

/** The next `count` fire times after `from`; [] for no schedule or an invalid one. */
export function nextRunTimes(
  expression: string | null | undefined,
  timezone: string,
  count = 3,
  from: Date = new Date(),
): Date[] {
  if (!expression) return [];
  try {
    const iterator = cronParser.parseExpression(expression, { tz: timezone, currentDate: from });
    const times: Date[] = [];
    for (let index = 0; index < count; index += 1) times.push(iterator.next().toDate());
    return times;
  } catch {
    return [];
  }
}

/** `nextRunAt` and `nextRuns` of a job as the jobs API shows them. */
export function jobNextRuns(
  job: { schedule?: string | null; timezone: string; enabled: boolean },
  now: Date = new Date(),
): { nextRunAt: string | null; nextRuns: string[] } {
  const times = job.enabled ? nextRunTimes(job.schedule, job.timezone, 3, now).map((time) => time.toISOString()) : [];
  return { nextRunAt: times[0] ?? null, nextRuns: times };
}

export interface ScheduledJobRow {
  id: string;
  schedule: string;
  timezone: string;
}

/** Called for each tick with the instant it was scheduled for (the same on every instance). */
export type TickHandler = (jobId: string, scheduledFor: Date) => Promise<void>;

/**
 * Keeps one node-schedule job per enabled, scheduled job and fires `onTick`. It holds no state
 * worth keeping: every instance runs one, and the database decides which fires (one execution
 * per (job, scheduled instant)).
 */
export class CronScheduler {
  readonly #onTick: TickHandler;
  readonly #log: Logger;
  readonly #active = new Map<string, { key: string; job: schedule.Job }>();

  constructor(options: { onTick: TickHandler; logger: Logger }) {
    this.#onTick = options.onTick;
    this.#log = options.logger;
  }

  /** Makes the running schedules match `jobs` (added, changed, removed). */
  reconcile(jobs: readonly ScheduledJobRow[]): void {
    const wanted = new Map(jobs.map((job) => [job.id, job]));
    for (const [id, entry] of this.#active) {
      const job = wanted.get(id);
      if (!job || keyOf(job) !== entry.key) {
        entry.job.cancel();
        this.#active.delete(id);
      }
    }
    for (const job of jobs) {
      if (this.#active.has(job.id)) continue;
      // NOTE: node-schedule passes the instant the invocation was scheduled for, not "now", so
      // every instance computes the same value for the same tick: the dedup key in the database.
      const scheduled = schedule.scheduleJob({ rule: job.schedule, tz: job.timezone }, (fireDate: Date) => {
        const scheduledFor = new Date(Math.floor(new Date(fireDate).getTime() / 1000) * 1000);
        this.#onTick(job.id, scheduledFor).catch((error: unknown) =>
          this.#log.error('cron tick failed', {
            jobId: job.id,
            scheduledFor: scheduledFor.toISOString(),
            error: errorMessage(error),
          }),
        );
      });
      if (!scheduled) {
        this.#log.warn('cron expression has no future run; not scheduled', {
          jobId: job.id,
          schedule: job.schedule,
          timezone: job.timezone,
        });
        continue;
      }
      this.#active.set(job.id, { key: keyOf(job), job: scheduled });
    }
  }

  /** The next instant each scheduled job fires (for tests and diagnostics). */
  nextInvocations(): Map<string, Date | null> {
    return new Map(
      [...this.#active].map(([id, entry]) => {
        const next = entry.job.nextInvocation() as Date | null;
        return [id, next ? new Date(next.getTime()) : null];
      }),
    );
  }

  stop(): void {
    for (const entry of this.#active.values()) entry.job.cancel();
    this.#active.clear();
  }
}

const keyOf = (job: ScheduledJobRow) => `${job.schedule}\u0000${job.timezone}`;

/** Re-reads the enabled scheduled jobs from the database every `intervalMs` (changes from any instance). */
export function pollSchedules(options: {
  orm: MikroORM;
  scheduler: CronScheduler;
  intervalMs: number;
  logger: Logger;
}): { refresh(): Promise<void>; stop(): void } {
  const refresh = async () => {
    const rows = await options.orm.em
      .fork()
      .execute<ScheduledJobRow[]>(
        `select id, schedule, timezone from scheduler_jobs where enabled and schedule is not null and schedule <> ''`,
        [],
        'all',
      );
    options.scheduler.reconcile(rows);
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    refresh()
      .catch((error: unknown) =>
        options.logger.warn('could not refresh the cron schedules', { error: errorMessage(error) }),
      )
      .finally(() => (running = false));
  }, options.intervalMs);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}
