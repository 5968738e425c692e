import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer, Transaction } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import { withDeadline } from './deadline.ts';
import { stickyPartitioner } from './producer.ts';
import { TransactionBatch, type TransactionalOutput } from './transaction-batch.ts';

/** Longest stretch of processing without giving the event loop a turn. */
const YIELD_EVERY_MS = 20;

/*
 * The first send of a transaction that begins right after the previous one's commit often meets
 * CONCURRENT_TRANSACTIONS: the broker answers EndTxn before it has written the commit markers, and
 * refuses AddPartitionsToTxn until it has (a few milliseconds). kafkajs retries that send after
 * its default 300 ms, and every record of the transaction waited those 300 ms: about one metric
 * in a hundred arrived 300-450 ms late while the median was about 20 ms. Retrying after 20 ms
 * (as the Java client does for this answer) removes that tail; eight doublings keep the total
 * retry budget near the default's (about 10 s) for a broker that is really away.
 */
const TRANSACTION_SEND_RETRY = { initialRetryTime: 20, retries: 8 };

/** A consumed record as the processing step sees it (client-neutral). */
export type ConsumedRecord = Pick<KafkaMessage, 'key' | 'value' | 'offset'> & Partial<Pick<KafkaMessage, 'headers'>>;

export interface TransactionalStreamOptions<T extends TransactionalOutput> {
  groupId: string;
  topics: string[];
  /** Stable per instance: a restarted instance fences its predecessor's open transaction. */
  transactionalId: string;
  /** Longest time a transaction stays open while records keep coming. */
  commitIntervalMs: number;
  /** Output bytes after which the transaction is committed and the next begun. */
  maxTransactionBytes: number;
  /** Longest wait for a commit (sends, offsets, end) or a connection before the session is rebuilt. */
  commitTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Most bytes one fetch takes from one partition. */
  maxBytesPerPartition: number;
  logger: Logger;
  /** Turns one consumed record into the records to write. Synchronous: no await between records. */
  process(record: ConsumedRecord, source: { topic: string; partition: number }): T;
  /** The outputs of a committed transaction. */
  committed(outputs: T[]): void;
  /** The outputs of a transaction that failed: none of its records will ever be read. */
  aborted(outputs: T[]): void;
}

/**
 * One consumer and one transactional producer working together until either fails. A failed
 * session is thrown away whole (TransactionalStream starts a new one), so no state of a failed
 * transaction or of a consumer that ran ahead of its commits can leak into the next one.
 *
 * Consumed records of every assigned partition go into the one open transaction; it is committed
 * (with the offsets of everything in it) when the records of the last fetch are all in, when it
 * reaches `maxTransactionBytes`, or after `commitIntervalMs`, whichever comes first. While it
 * commits, the next transaction fills in memory.
 *
 * NOTE (offsets): a partition's batch returns to kafkajs, and its offsets are resolved, only once
 * the transactions holding its records committed. kafkajs fetches again only after every batch of
 * a fetch returned, so a rebalance or a stop always finds this instance at a committed boundary.
 */
export class TransactionalSession<T extends TransactionalOutput> {
  readonly #kafka: Kafka;
  readonly #options: TransactionalStreamOptions<T>;
  #producer: Producer | undefined;
  #consumer: Consumer | undefined;
  #current: TransactionBatch<T> | undefined;
  /** The Kafka transaction begun last (it may be open when the session fails). */
  #lastTransaction: Transaction | undefined;
  /** Settles when the last sealed transaction is over (committed or failed). */
  #commitChain: Promise<void> = Promise.resolve();
  readonly #uncommitted = new Set<TransactionBatch<T>>();
  /** Partition batches still being processed. */
  #busy = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #closing: Promise<void> | undefined;
  #broken: Error | undefined;
  #endSession!: (error: Error) => void;
  /** Settles with the error that ended the session. */
  readonly ended: Promise<Error>;
  commits = 0;

  constructor(kafka: Kafka, options: TransactionalStreamOptions<T>) {
    this.#kafka = kafka;
    this.#options = options;
    this.ended = new Promise((resolve) => (this.#endSession = resolve));
  }

  async start(): Promise<void> {
    const options = this.#options;
    const producer = this.#kafka.producer({
      transactionalId: options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: stickyPartitioner,
      transactionTimeout: Math.max(60_000, options.commitIntervalMs + 2 * options.commitTimeoutMs),
      retry: TRANSACTION_SEND_RETRY,
    });
    this.#producer = producer;
    await withDeadline(producer.connect(), this.#options.commitTimeoutMs, 'connecting the transactional producer');
    // NOTE: the first transaction initialises the transactional id, which fences a predecessor
    // with the same id and aborts its open transaction before this session reads anything.
    const first = this.#newBatch();
    await first.begun;
    if (this.#broken) throw this.#broken;

    const consumer = this.#kafka.consumer({
      groupId: options.groupId,
      readUncommitted: false,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxBytes: Math.max(10 * options.maxBytesPerPartition, 10_485_760),
      // A crash ends the session; the stream starts a fresh consumer and producer together.
      retry: { retries: 5, restartOnFailure: async () => false },
    });
    this.#consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => this.fail(payload.error));
    await withDeadline(consumer.connect(), options.commitTimeoutMs, 'connecting the consumer');
    await consumer.subscribe({ topics: options.topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every assigned partition's batch of a fetch is processed at once, into one transaction.
      partitionsConsumedConcurrently: 64,
      eachBatch: (payload) => this.#eachBatch(payload),
    });
  }

  /** Ends the session: every transaction not yet committed is failed and its outputs reported. */
  fail(error: Error): void {
    if (this.#broken) return;
    this.#broken = error;
    clearTimeout(this.#timer);
    for (const batch of this.#uncommitted) {
      if (batch.fail(error)) this.#options.aborted(batch.outputs);
    }
    this.#uncommitted.clear();
    this.#endSession(error);
  }

  get broken(): boolean {
    return this.#broken !== undefined;
  }

  /**
   * Stops consuming. A healthy session commits what it consumed; a broken one aborts what it can.
   * Every step has a deadline: a broker that went away cannot hold the stop forever.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    const deadline = this.#options.commitTimeoutMs;
    // kafkajs waits for the batches in progress; they stop at the next record and wait for the
    // commit of what they added (sealed below once none is busy).
    if (this.#consumer) {
      await withDeadline(this.#consumer.disconnect(), deadline + this.#options.sessionTimeoutMs, 'leaving the group')
        // NOTE: whatever has not committed is read again from the committed offsets by whoever
        // gets the partitions next; the failure is only logged.
        .catch((error: unknown) => this.fail(error as Error));
    }
    const current = this.#current;
    if (current && !current.empty && !this.#broken) await this.#seal(current).catch(() => undefined);
    await this.#commitChain;
    const open = this.#lastTransaction;
    // An open transaction would hold back read_committed readers until it times out. (After a
    // failed commit kafkajs refuses the abort; the next session's producer then fences it.)
    if (open?.isActive()) {
      await withDeadline(open.abort(), deadline, 'aborting the open transaction').catch(() => undefined);
    }
    if (this.#producer) {
      await withDeadline(this.#producer.disconnect(), deadline, 'disconnecting the producer').catch((error: unknown) =>
        this.#options.logger.warn('transactional producer did not disconnect', {
          error: (error as Error).message,
        }),
      );
    }
    this.fail(new Error('the session was closed'));
  }

  #newBatch(): TransactionBatch<T> & { begun: Promise<void> } {
    const batch = Object.assign(new TransactionBatch<T>((error) => this.fail(error)), { begun: Promise.resolve() });
    this.#uncommitted.add(batch);
    this.#current = batch;
    // NOTE: a producer has one transaction at a time; this one begins when the previous ended.
    batch.begun = this.#commitChain.then(async () => {
      if (this.#broken) return;
      try {
        const producer = this.#producer!;
        const transaction = await withDeadline(
          producer.transaction(),
          this.#options.commitTimeoutMs,
          'beginning a transaction',
        );
        this.#lastTransaction = transaction;
        batch.begin(transaction);
      } catch (error) {
        this.fail(error as Error);
      }
    });
    return batch;
  }

  /** Closes `batch` to new records (the next ones go to a new batch) and commits it. */
  #seal(batch: TransactionBatch<T> & { begun?: Promise<void> }): Promise<void> {
    if (batch !== this.#current || this.#broken) return batch.committed;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const committing = (async () => {
      await batch.begun;
      if (this.#broken) throw this.#broken;
      await withDeadline(batch.commit(this.#options.groupId), this.#options.commitTimeoutMs, 'a transaction commit');
    })();
    this.#commitChain = committing.then(
      () => {
        this.#uncommitted.delete(batch);
        this.commits += 1;
        if (batch.succeed()) this.#options.committed(batch.outputs);
      },
      (error: unknown) => this.fail(error as Error),
    );
    this.#newBatch();
    return batch.committed;
  }

  /** One partition's fetched batch, processed into the open transaction(s). */
  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    if (this.#broken) throw this.#broken;
    const source = { topic: batch.topic, partition: batch.partition };
    // The transactions holding this batch's records, with the last offset each holds.
    const holding: { batch: TransactionBatch<T>; offset: string }[] = [];
    const awaitCommits = async () => {
      for (const held of holding.splice(0)) {
        await held.batch.committed;
        resolveOffset(held.offset);
      }
    };
    let lastYield = performance.now();
    this.#busy += 1;
    try {
      for (const message of batch.messages) {
        if (this.#broken) throw this.#broken;
        // A revoked partition or a stop: end at this record boundary; what was added commits.
        if (this.#stopping || !isRunning() || isStale()) break;
        const output = this.#options.process(message, source);
        const current = this.#current!;
        const sent = current.add(output, source, message.offset);
        const last = holding.at(-1);
        if (last?.batch === current) last.offset = message.offset;
        else holding.push({ batch: current, offset: message.offset });
        if (current.outputs.length === 1) this.#startTimer(current);
        if (current.bytes >= this.#options.maxTransactionBytes) {
          // Bounded memory, without stopping while this transaction commits: the previous one must be
          // over before this one is sealed, so at most one transaction commits while the next fills.
          await this.#commitChain;
          void this.#seal(current);
          if (
            !(await heartbeat().then(
              () => true,
              () => false,
            ))
          )
            break;
        } else if (sent || performance.now() - lastYield > YIELD_EVERY_MS) {
          // Let the producer write the piece it was handed while the next records are processed,
          // and keep the event loop (heartbeats, health probes, responses) turning.
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = performance.now();
          if (
            !(await heartbeat().then(
              () => true,
              () => false,
            ))
          )
            break;
        }
      }
    } finally {
      this.#busy -= 1;
      if (this.#busy === 0) this.#sealWhenIdle();
    }
    await awaitCommits();
  }

  /** Commits the open transaction once every batch of the fetch is in it. */
  #sealWhenIdle(): void {
    // One turn later: the other partitions' batches of the same fetch may be about to start.
    setImmediate(() => {
      const current = this.#current;
      if (this.#busy === 0 && current && !current.empty) void this.#seal(current);
    });
  }

  #startTimer(batch: TransactionBatch<T>): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (this.#current === batch) void this.#seal(batch);
    }, this.#options.commitIntervalMs);
  }
}
