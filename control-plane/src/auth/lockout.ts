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

  /** Seconds until a login for this account from this address may be tried again; 0 when it may now. */
  retryAfterSeconds(account: string, address: string): number {
    const account_ = this.#waitFor(`account:${account.toLowerCase()}`, this.#settings.maxFailuresPerAccount);
    const address_ = this.#waitFor(`address:${address}`, this.#settings.maxFailuresPerAddress);
    return Math.max(account_, address_);
  }

  recordFailure(account: string, address: string): void {
    for (const key of [`account:${account.toLowerCase()}`, `address:${address}`]) {
      const times = this.#recent(key);
      times.push(this.#now());
      this.#failures.set(key, times);
    }
    this.#prune();
  }

  /** A successful login clears the account's failures (not the address's: one good password must not unlock guessing others). */
  recordSuccess(account: string): void {
    this.#failures.delete(`account:${account.toLowerCase()}`);
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
