import { Gauge, type Registry } from 'prom-client';

/** A lag probe that does not answer in this time counts as "lag unknown". */
const LAG_PROBE_TIMEOUT_MS = 2_500;

/** How much work waits for a consumer (records behind the end of its topics); throws when unknown. */
export type LagProbe = () => Promise<number>;

/** What one consumer loop reports to the tracker. */
export interface ConsumerProgress {
  /** Work was done and its offsets committed. */
  advanced(): void;
  /** The loop fetched and had nothing in hand: it is caught up, which counts as progress. */
  idle(): void;
  /**
   * The handler is alive and deliberately waiting (retrying a refusing destination, waiting for
   * a free sync slot): not stuck, and a restart would not help, so the stall clock restarts.
   */
  working(): void;
  /** The loop is running (joined its group) or not (crashed, restarting, stopped), with why. */
  running(running: boolean, reason?: string): void;
}

export interface StalledConsumer {
  consumer: string;
  reason: string;
}

interface Tracked {
  lastProgressAt: number;
  running: boolean;
  notRunningReason: string | undefined;
  lag: LagProbe;
}

/**
 * Liveness as progress: a consumer with work waiting (lag above zero) that has made no progress
 * for `stallAfterMs` is stalled, and a stalled stage answers /healthz with 503 and the reason so
 * a supervisor restarts it. An idle consumer (nothing waiting) is never stalled, and neither is
 * one whose lag cannot be measured (the broker is away: a restart would not help).
 *
 * NOTE: the lag is measured only when a consumer looks stuck, so /healthz costs nothing on a
 * healthy stage; the measure asks the broker (committed offsets against the end offsets).
 */
export class ProgressTracker {
  readonly stallAfterMs: number;
  readonly #consumers = new Map<string, Tracked>();
  readonly #now: () => number;

  constructor(options: { stallAfterMs: number; registry?: Registry; now?: () => number }) {
    this.stallAfterMs = options.stallAfterMs;
    this.#now = options.now ?? Date.now;
    if (options.registry) {
      const consumers = this.#consumers;
      const now = this.#now;
      new Gauge({
        name: 'muxly_consumer_seconds_since_progress',
        help: 'Seconds since the consumer last committed work or found nothing waiting.',
        labelNames: ['consumer'],
        registers: [options.registry],
        collect() {
          this.reset();
          for (const [consumer, tracked] of consumers)
            this.set({ consumer }, Math.max(0, (now() - tracked.lastProgressAt) / 1000));
        },
      });
    }
  }

  /** Registers a consumer loop by a stable, bounded name (its group id). */
  track(consumer: string, lag: LagProbe): ConsumerProgress {
    const tracked: Tracked = { lastProgressAt: this.#now(), running: false, notRunningReason: 'starting', lag };
    this.#consumers.set(consumer, tracked);
    const touch = () => (tracked.lastProgressAt = this.#now());
    return {
      advanced: touch,
      idle: touch,
      working: touch,
      running: (running, reason) => {
        // A consumer that (re)joins starts its clock afresh: the time it was away is not a stall.
        if (running && !tracked.running) touch();
        tracked.running = running;
        tracked.notRunningReason = running ? undefined : (reason ?? 'not running');
      },
    };
  }

  untrack(consumer: string): void {
    this.#consumers.delete(consumer);
  }

  /** The consumers that have work waiting and made no progress within stallAfterMs. */
  async stalled(): Promise<StalledConsumer[]> {
    const now = this.#now();
    const suspects = [...this.#consumers].filter(([, tracked]) => now - tracked.lastProgressAt > this.stallAfterMs);
    const verdicts = await Promise.all(
      suspects.map(async ([consumer, tracked]) => {
        let lag: number;
        let timer: NodeJS.Timeout | undefined;
        try {
          lag = await Promise.race([
            tracked.lag(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error('lag probe timed out')), LAG_PROBE_TIMEOUT_MS);
            }),
          ]);
        } catch {
          return undefined;
        } finally {
          clearTimeout(timer);
        }
        // Caught up counts as progress: work arriving later starts a fresh clock.
        if (lag <= 0) {
          tracked.lastProgressAt = now;
          return undefined;
        }
        const seconds = Math.round((now - tracked.lastProgressAt) / 1000);
        const state = tracked.running ? 'running' : `not running: ${tracked.notRunningReason}`;
        return { consumer, reason: `${lag} records waiting and no progress for ${seconds} s (${state})` };
      }),
    );
    return verdicts.filter((verdict): verdict is StalledConsumer => verdict !== undefined);
  }

  /** A readiness check: fails while a consumer is not in its group (crashed, restarting). */
  readonly readiness = async (): Promise<void> => {
    const away = [...this.#consumers].filter(([, tracked]) => !tracked.running);
    if (away.length > 0)
      throw new Error(away.map(([consumer, tracked]) => `${consumer}: ${tracked.notRunningReason}`).join('; '));
  };
}
