import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';

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
  readonly consumer: Consumer;
  readonly #options: BatchConsumerOptions;
  #running = false;

  constructor(kafka: Kafka, options: BatchConsumerOptions) {
    this.#options = options;
    this.consumer = kafka.consumer({
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
  }

  async start(handler: ChunkHandler): Promise<void> {
    const { topics, fromBeginning = true } = this.#options;
    await this.consumer.connect();
    try {
      await this.consumer.subscribe({ topics, fromBeginning });
      this.#running = true;
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.#eachBatch(payload, handler),
      });
    } catch (error) {
      // A start that failed (e.g. topics not in the metadata yet) leaves no connection behind,
      // so the caller can simply try again.
      this.#running = false;
      await this.consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async #eachBatch(payload: EachBatchPayload, handler: ChunkHandler): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    const chunkSize = this.#options.chunkSize ?? 500;
    const context: BatchContext = {
      topic: batch.topic,
      partition: batch.partition,
      heartbeat,
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
        await this.consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
        ]);
      }
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
    await this.consumer.disconnect();
  }
}
