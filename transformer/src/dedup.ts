/**
 * Remembers the last `capacity` events this instance wrote (their ids scoped by source), so a repeat within that
 * window is dropped. Bounded memory: a Map keeps insertion order, the oldest id is evicted first.
 * NOTE: the window is per instance and in memory; after a restart or a rebalance a duplicate
 * older than the window (or seen by another instance) passes, which the delivery promise allows downstream
 * (destinations are idempotent by id where they can be).
 */
export class DedupWindow {
  readonly #ids = new Map<string, true>();
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    this.#ids.delete(id);
    this.#ids.set(id, true);
    if (this.#ids.size > this.capacity) {
      const oldest = this.#ids.keys().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
  }

  /** Forgets ids added in an aborted transaction, so their retry is not mistaken for a duplicate. */
  remove(ids: Iterable<string>): void {
    for (const id of ids) this.#ids.delete(id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
