/**
 * Remembers the last `capacity` events this instance wrote (their ids scoped by source), so a repeat within that
 * window is dropped. Bounded memory: the ids sit in a ring in the order they were added, and the oldest is
 * evicted when a new one needs its slot.
 * NOTE: the window is per instance and in memory; after a restart or a rebalance a duplicate
 * older than the window (or seen by another instance) passes, which the delivery promise allows downstream
 * (destinations are idempotent by id where they can be).
 *
 * NOTE (why a ring and not a Map's insertion order): evicting a Map's first key walks over every
 * entry deleted before it until V8 compacts the table, which took a tenth of the transformer's CPU
 * at 100,000 ids; the ring evicts in constant time.
 */
export class DedupWindow {
  /** Each id with the number of the ring slot write that holds it. */
  readonly #ids = new Map<string, number>();
  readonly #ring: (string | undefined)[];
  /** Slot writes so far; the next write goes to `#writes % capacity`. */
  #writes = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#ring = new Array<string | undefined>(capacity);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    if (this.capacity === 0) return;
    const slot = this.#writes % this.capacity;
    const evicted = this.#ring[slot];
    // The slot's id leaves the window unless it was added again since (then a later slot holds it)
    // or removed (an aborted transaction).
    if (evicted !== undefined && this.#ids.get(evicted) === this.#writes - this.capacity) this.#ids.delete(evicted);
    this.#ring[slot] = id;
    this.#ids.set(id, this.#writes);
    this.#writes += 1;
  }

  /** Forgets ids added in an aborted transaction, so their retry is not mistaken for a duplicate. */
  remove(ids: Iterable<string>): void {
    for (const id of ids) this.#ids.delete(id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
