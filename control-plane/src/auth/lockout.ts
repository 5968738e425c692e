// Counts failed logins per account and per client address in a sliding window. Over a limit the
// login is refused with 429 and Retry-After before the password is even checked, so a locked
// account cannot be probed. NOTE: the counts live in this process; with several instances behind
// a load balancer each one counts on its own (the limit is then per instance; documented).

export interface LockoutSettings {
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

export class LoginLockout {
  readonly #settings: LockoutSettings;
  readonly #failures = new Map<string, number[]>();
  readonly #now: () => number;

  constructor(settings: LockoutSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /**
   * Seconds until a login for this account from this address may be tried again. When it may be
   * tried now (0), the try is counted as a failure at once and stops counting only when
   * `recordSuccess` follows.
   * NOTE: counting before the password check (which takes tens of milliseconds) is what stops a
   * burst of parallel guesses: checking first and counting after the verification would let every
   * request of the burst pass the check before the first failure was recorded.
   */
  begin(account: string, address: string): number {
    const accountKey = `account:${account.toLowerCase()}`;
    const addressKey = `address:${address}`;
    const wait = Math.max(
      this.#waitFor(accountKey, this.#settings.maxFailuresPerAccount),
      this.#waitFor(addressKey, this.#settings.maxFailuresPerAddress),
    );
    if (wait > 0) return wait;
    const now = this.#now();
    for (const key of [accountKey, addressKey]) this.#failures.set(key, [...this.#recent(key), now]);
    this.#prune();
    return 0;
  }

  /**
   * The login succeeded: the account's failures are forgotten and this try stops counting against
   * the address (its earlier failures still count: one good password must not unlock guessing others).
   */
  recordSuccess(account: string, address: string): void {
    this.#failures.delete(`account:${account.toLowerCase()}`);
    const addressKey = `address:${address}`;
    const times = this.#recent(addressKey);
    times.pop();
    if (times.length > 0) this.#failures.set(addressKey, times);
    else this.#failures.delete(addressKey);
  }

  #recent(key: string): number[] {
    const since = this.#now() - this.#settings.windowSeconds * 1000;
    return (this.#failures.get(key) ?? []).filter((time) => time > since);
  }

  #waitFor(key: string, limit: number): number {
    const times = this.#recent(key);
    if (times.length < limit) return 0;
    // Locked until the failure that reached the limit leaves the window.
    const unlockAt = times[times.length - limit]! + this.#settings.windowSeconds * 1000;
    return Math.max(1, Math.ceil((unlockAt - this.#now()) / 1000));
  }

  #prune(): void {
    // Bounded memory under a spray of random user names: forget expired entries when the map grows.
    if (this.#failures.size < 10_000) return;
    for (const key of this.#failures.keys()) {
      if (this.#recent(key).length === 0) this.#failures.delete(key);
    }
  }
}
