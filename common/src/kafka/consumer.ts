import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { ConsumerProgress, ProgressTracker } from '../observability/progress.ts';
import { consumerGroupLag } from './admin.ts';

/** Longest wait between two attempts to re-create a consumer that kafkajs gave up on. */
const MAX_RECOVERY_DELAY_MS = 30_000;

export interface BatchContext {
  topic: string;
  partition: number;
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or the partition was revoked: stop early. */
  shouldContinue(): boolean;
  /** The partition's high watermark when the batch was fetched (for lag metrics). */
  highWatermark: string;
}

/**
 * Processes one chunk of messages of one partition. Resolve when every message is done
 * (delivered, dead-lettered or deliberately filtered); the wrapper then commits their offsets.
 * Return a number to commit only up to that many messages of the chunk (partial progress).
 * Throwing commits nothing of the chunk and makes kafkajs restart from the last commit.
 */
export type ChunkHandler = (messages: KafkaMessage[], context: BatchContext) => Promise<number | void>;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  /** Read from the beginning when the group has no committed offset. */
  fromBeginning?: boolean;
  /** Most messages handed to the handler at once: caps in-flight work. */
  chunkSize?: number;
  /** 'consumer': the wrapper commits after each chunk. 'handler': the handler commits (transactions). */
  commitMode?: 'consumer' | 'handler';
  readUncommitted?: boolean;
  sessionTimeoutMs?: number;
  /** Reports the loop's progress for liveness (tracked under the group id). */
  progress?: ProgressTracker;
  /**
   * The partitions this member owns, by topic: called on each group join, and with none when the
   * consumer crashed (it left the group; its partitions may go to other members meanwhile).
   */
  onAssignment?: (assignment: Record<string, number[]>) => void;
  logger: Logger;
}

/**
 * A consumer that commits an offset only after the work for it is done.
 *
 * NOTE: kafkajs auto-commit would commit offsets of messages whose (awaited) work has not
 * finished if the process dies at the wrong moment; here auto-commit is off and each chunk's
 * offsets are committed explicitly after the handler resolved, so a crash replays the unfinished
 * chunk (at-least-once) and never skips it.
 */
export class BatchConsumer {
  readonly #kafka: Kafka;
  readonly #options: BatchConsumerOptions;
  readonly #progress: ConsumerProgress | undefined;
  #consumer: Consumer;
  #handler: ChunkHandler | undefined;
  #running = false;
  /** Handler calls in progress, and batches handed over since the last fetch (idle detection). */
  #handling = 0;
  #batchesSinceFetch = 0;
  #recoveryDelayMs = 1_000;
  #recoveryTimer: NodeJS.Timeout | undefined;

  constructor(kafka: Kafka, options: BatchConsumerOptions) {
    this.#kafka = kafka;
    this.#options = options;
    this.#progress = options.progress?.track(options.groupId, () =>
      consumerGroupLag(kafka, options.groupId, options.topics),
    );
    this.#consumer = this.#create();
  }

  /** The kafkajs consumer in use (replaced when it crashed beyond kafkajs's own restarts). */
  get consumer(): Consumer {
    return this.#consumer;
  }

  #create(): Consumer {
    const options = this.#options;
    const consumer = this.#kafka.consumer({
      groupId: options.groupId,
      readUncommitted: options.readUncommitted ?? false,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      retry: {
        retries: 5,
        // NOTE: kafkajs restarts a crashed consumer on a timer. A start still retrying when stop()
        // runs (the broker was away) crashes after it and would schedule one more restart, which
        // then runs on in a stopped service: once stopped, never restart.
        restartOnFailure: async () => this.#running,
      },
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.#recoveryDelayMs = 1_000;
      this.#progress?.running(true);
      options.onAssignment?.(payload.memberAssignment);
    });
    // A fetch that follows one which handed over no batch, with no handler busy: caught up.
    consumer.on(consumer.events.FETCH, () => {
      if (this.#batchesSinceFetch === 0 && this.#handling === 0) this.#progress?.idle();
      this.#batchesSinceFetch = 0;
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (consumer !== this.#consumer) return;
      options.onAssignment?.({});
      const restarting = payload.restart && this.#running;
      this.#progress?.running(
        false,
        `crashed (${errorMessage(payload.error)}); ${restarting ? 'restarting' : 'being re-created'}`,
      );
      // NOTE: kafkajs restarts a crashed consumer only after a retriable error. A non-retriable
      // one (a failed transaction abort, a handler's own error) leaves it stopped for good while
      // the service looks healthy: re-create it here, with a backoff, for as long as it runs.
      if (!payload.restart && this.#running) this.#scheduleRecovery(payload.error);
    });
    return consumer;
  }

  async start(handler: ChunkHandler): Promise<void> {
    this.#handler = handler;
    try {
      await this.#run();
    } catch (error) {
      this.#running = false;
      throw error;
    }
  }

  async #run(): Promise<void> {
    const { topics, fromBeginning = true } = this.#options;
    const consumer = this.#consumer;
    await consumer.connect();
    try {
      await consumer.subscribe({ topics, fromBeginning });
      this.#running = true;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.#eachBatch(payload),
      });
    } catch (error) {
      // A start that failed (e.g. topics not in the metadata yet) leaves no connection behind,
      // so the caller can simply try again.
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  #scheduleRecovery(error: unknown): void {
    const delayMs = this.#recoveryDelayMs;
    this.#recoveryDelayMs = Math.min(delayMs * 2, MAX_RECOVERY_DELAY_MS);
    this.#options.logger.warn('consumer stopped after an error; re-creating it', {
      groupId: this.#options.groupId,
      error: errorMessage(error),
      retryInMs: delayMs,
    });
    clearTimeout(this.#recoveryTimer);
    this.#recoveryTimer = setTimeout(() => void this.#recover(), delayMs);
  }

  async #recover(): Promise<void> {
    if (!this.#running) return;
    await this.#consumer.disconnect().catch(() => undefined);
    if (!this.#running) return;
    this.#consumer = this.#create();
    try {
      await this.#run();
      this.#options.logger.info('consumer re-created', { groupId: this.#options.groupId });
    } catch (error) {
      this.#progress?.running(false, `re-creating failed (${errorMessage(error)})`);
      if (this.#running) this.#scheduleRecovery(error);
    }
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    this.#batchesSinceFetch += 1;
    this.#handling += 1;
    try {
      await this.#handleBatch(payload, this.#handler!);
    } finally {
      this.#handling -= 1;
    }
  }

  async #handleBatch(payload: EachBatchPayload, handler: ChunkHandler): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    const chunkSize = this.#options.chunkSize ?? 500;
    const context: BatchContext = {
      topic: batch.topic,
      partition: batch.partition,
      heartbeat: async () => {
        this.#progress?.working();
        await heartbeat();
      },
      shouldContinue: () => isRunning() && !isStale(),
      highWatermark: batch.highWatermark,
    };
    for (let start = 0; start < batch.messages.length; start += chunkSize) {
      if (!context.shouldContinue()) return;
      const chunk = batch.messages.slice(start, start + chunkSize);
      const done = await handler(chunk, context);
      const completed = typeof done === 'number' ? Math.min(done, chunk.length) : chunk.length;
      if (completed === 0) return;
      const last = chunk[completed - 1]!;
      resolveOffset(last.offset);
      if (this.#options.commitMode !== 'handler') {
        await this.#consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
        ]);
      }
      this.#progress?.advanced();
      await heartbeat();
      if (completed < chunk.length) return;
    }
  }

  get running(): boolean {
    return this.#running;
  }

  /** Stops fetching, lets the chunk in progress finish and commit, then leaves the group. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#recoveryTimer);
    // A stopped loop is no longer watched (the router stops a destination's loop on reload).
    this.#options.progress?.untrack(this.#options.groupId);
    await this.#consumer.disconnect();
  }
}
