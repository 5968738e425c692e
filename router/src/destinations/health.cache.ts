import { errorMessage } from '@muxly/common';
import type { DestinationInstance } from './destination.ts';

interface Entry {
  instance: DestinationInstance;
  /** The last finished check (undefined: none finished yet). */
  last?: { ok: true } | { ok: false; error: string };
  /** The check in flight, if any: the first /readyz after a start waits for it. */
  running?: Promise<void>;
  timer?: NodeJS.Timeout;
}

/**
 * The destinations' outbound checks for /readyz, run in the background once per interval and
 * answered from the last result. /readyz is unauthenticated: checking every destination on each
 * call would let anyone who reaches the health port make the router send as many requests to
 * every receiver (and spend its sockets) as they send probes.
 */
export class DestinationHealthCache {
  private readonly entries = new Map<string, Entry>();

  private readonly intervalMs: number;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** Starts checking a destination now and then every interval, until `remove`. */
  add(id: string, instance: DestinationInstance): void {
    this.remove(id);
    const entry: Entry = { instance };
    this.entries.set(id, entry);
    this.refresh(entry);
    entry.timer = setInterval(() => this.refresh(entry), this.intervalMs);
    entry.timer.unref();
  }

  remove(id: string): void {
    const entry = this.entries.get(id);
    if (entry) clearInterval(entry.timer);
    this.entries.delete(id);
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.remove(id);
  }

  /** The readiness check: throws naming every destination whose last check failed. */
  readonly readiness = async (): Promise<void> => {
    const entries = [...this.entries];
    // Only a destination with no finished check yet waits (for its first one, already running).
    await Promise.all(entries.flatMap(([, entry]) => (!entry.last && entry.running ? [entry.running] : [])));
    const failing = entries.flatMap(([id, entry]) =>
      entry.last && !entry.last.ok ? [`${id}: ${entry.last.error}`] : [],
    );
    if (failing.length > 0) throw new Error(failing.join('; '));
  };

  private refresh(entry: Entry): void {
    // NOTE: a check slower than the interval is not started twice: the next tick skips it.
    if (entry.running) return;
    entry.running = entry.instance.healthcheck().then(
      () => {
        entry.last = { ok: true };
      },
      (error: unknown) => {
        entry.last = { ok: false, error: errorMessage(error) };
      },
    );
    void entry.running.finally(() => {
      entry.running = undefined;
    });
  }
}
