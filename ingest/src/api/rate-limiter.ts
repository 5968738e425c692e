/**
 * A token bucket per API key id: each request takes one token; tokens refill at `ratePerSecond`
 * up to `burst`. Buckets of idle keys are dropped lazily, so memory follows the active keys.
 * A rate of 0 turns the limit off.
 */
export class RateLimiter {
  readonly #ratePerSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; updatedAt: number }>();
  #lastSweep = 0;

  constructor(options: { ratePerSecond: number; burst: number; now?: () => number }) {
    this.#ratePerSecond = options.ratePerSecond;
    this.#burst = Math.max(1, options.burst);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Takes a token for the key: 0 when allowed, otherwise the milliseconds until one is available. */
  take(keyId: string): number {
    if (this.#ratePerSecond <= 0) return 0;
    const now = this.#now();
    this.#sweep(now);
    let bucket = this.#buckets.get(keyId);
    if (!bucket) this.#buckets.set(keyId, (bucket = { tokens: this.#burst, updatedAt: now }));
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.#ratePerSecond);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.#ratePerSecond) * 1000);
  }

  /** A bucket that has been full for a while carries no state worth keeping. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 60_000) return;
    this.#lastSweep = now;
    const fullAfterMs = (this.#burst / this.#ratePerSecond) * 1000;
    for (const [key, bucket] of this.#buckets) if (now - bucket.updatedAt > fullAfterMs) this.#buckets.delete(key);
  }
}
