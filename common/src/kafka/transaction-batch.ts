import type { Transaction } from 'kafkajs';
import { groupByTopic, type OutgoingRecord } from './producer.ts';
import { MAX_SEND_BYTES, piecesOf, recordBytes } from './record-size.ts';

/** Unsent bytes that go out at once when no send of the transaction is in flight (see #sendFull). */
const EAGER_SEND_BYTES = 64 * 1024;

/** What processing one consumed record yields: the records to write in its transaction. */
export interface TransactionalOutput {
  records: OutgoingRecord[];
}

interface PartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read: the last consumed offset + 1. */
  offset: bigint;
}

/**
 * One transaction's content: the outputs of the records consumed into it (from any partition),
 * the offsets to commit with them, and the produce requests already sent.
 *
 * Records are sent while the batch fills (a piece of at most MAX_SEND_BYTES, or what gathered
 * while the previous send was in flight once it reaches EAGER_SEND_BYTES), so the next records
 * are processed while the broker appends the previous ones. Until the batch has a
 * Kafka transaction (the producer's previous transaction is still committing) its records wait in
 * memory and go out as soon as it begins.
 */
export class TransactionBatch<T extends TransactionalOutput> {
  readonly outputs: T[] = [];
  readonly #offsets = new Map<string, PartitionOffset>();
  readonly #onSendFailed: (error: Error) => void;
  #bytes = 0;
  #unsent: OutgoingRecord[] = [];
  /** Each unsent record's size, measured once when it was added. */
  #unsentSizes: number[] = [];
  #unsentBytes = 0;
  #transaction: Transaction | undefined;
  /** The chain of this transaction's sends. NOTE: one at a time: idempotent sequence numbers. */
  #sending: Promise<void> = Promise.resolve();
  /** Sends handed to the producer and not yet answered. */
  #inFlight = 0;
  #settled = false;
  #resolve!: () => void;
  #reject!: (error: Error) => void;
  /** Settles when the transaction committed (or failed: then nothing of it is visible). */
  readonly committed: Promise<void>;

  constructor(onSendFailed: (error: Error) => void) {
    this.#onSendFailed = onSendFailed;
    this.committed = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Waiters attach later (or never, for a batch nobody contributed to).
    this.committed.catch(() => undefined);
  }

  /** Output bytes in this transaction so far. */
  get bytes(): number {
    return this.#bytes;
  }

  get empty(): boolean {
    return this.outputs.length === 0 && this.#offsets.size === 0;
  }

  /** Sends handed to the producer and not answered yet. */
  get sendsInFlight(): number {
    return this.#inFlight;
  }

  get transaction(): Transaction | undefined {
    return this.#transaction;
  }

  /** Adds a consumed record's output; returns true when a piece was handed to the producer. */
  add(output: T, source: { topic: string; partition: number }, offset: string): boolean {
    this.outputs.push(output);
    this.#offsets.set(`${source.topic}\u0000${source.partition}`, {
      topic: source.topic,
      partition: source.partition,
      offset: BigInt(offset) + 1n,
    });
    for (const record of output.records) {
      const size = recordBytes(record);
      this.#unsent.push(record);
      this.#unsentSizes.push(size);
      this.#unsentBytes += size;
      this.#bytes += size;
    }
    return this.#sendFull();
  }

  /** The Kafka transaction began: what waited for it goes out now. */
  begin(transaction: Transaction): void {
    this.#transaction = transaction;
    this.#sendFull();
  }

  /** Sends the rest, waits for every send, adds the offsets and commits. */
  async commit(groupId: string): Promise<void> {
    const transaction = this.#transaction;
    if (!transaction) throw new Error('the transaction never began');
    this.#sendUnsent();
    await this.#sending;
    const topics = new Map<string, { partition: number; offset: string }[]>();
    for (const { topic, partition, offset } of this.#offsets.values()) {
      let partitions = topics.get(topic);
      if (!partitions) topics.set(topic, (partitions = []));
      partitions.push({ partition, offset: offset.toString() });
    }
    if (topics.size > 0) {
      const offsets = {
        consumerGroupId: groupId,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      };
      // NOTE: a transaction with no records (every input a duplicate) begins with AddOffsetsToTxn,
      // which meets CONCURRENT_TRANSACTIONS while the previous commit's markers are being written;
      // kafkajs retries that answer for sends but not here, so it would end the whole session.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await transaction.sendOffsets(offsets);
          break;
        } catch (error) {
          if ((error as { type?: string }).type !== 'CONCURRENT_TRANSACTIONS' || attempt >= 10) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
        }
      }
    }
    await transaction.commit();
  }

  succeed(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#resolve();
    return true;
  }

  /** Marks the batch failed; false when it had already settled. */
  fail(error: Error): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#reject(error);
    return true;
  }

  /**
   * Sends what is unsent when it fills a produce request, or as soon as no send is in flight once
   * it reaches EAGER_SEND_BYTES.
   *
   * NOTE (latency): the transaction's first send also adds its partitions to the transaction
   * (AddPartitionsToTxn, which right after the previous commit often meets CONCURRENT_TRANSACTIONS
   * and waits a retry). Sent early, that round trip and the appends overlap the processing of the
   * next records instead of all waiting at the commit, which then sends only the rest.
   */
  #sendFull(): boolean {
    if (!this.#transaction) return false;
    if (this.#unsentBytes < MAX_SEND_BYTES && (this.#inFlight > 0 || this.#unsentBytes < EAGER_SEND_BYTES))
      return false;
    this.#sendUnsent();
    return true;
  }

  #sendUnsent(): void {
    const transaction = this.#transaction;
    const records = this.#unsent;
    if (!transaction || records.length === 0) return;
    const sizes = this.#unsentSizes;
    this.#unsent = [];
    this.#unsentSizes = [];
    this.#unsentBytes = 0;
    for (const piece of piecesOf(records, MAX_SEND_BYTES, sizes)) {
      this.#inFlight += 1;
      this.#sending = this.#sending.then(async () => {
        try {
          await transaction.sendBatch({ topicMessages: groupByTopic(piece), acks: -1 });
        } finally {
          this.#inFlight -= 1;
        }
      });
    }
    // A failed send dooms the transaction: report it now rather than at the commit.
    this.#sending.catch((error: unknown) => this.#onSendFailed(error as Error));
  }
}
