import type { Kafka } from 'kafkajs';
import { errorMessage } from '../errors.ts';
import { TransactionalSession, type TransactionalStreamOptions } from './transactional-session.ts';
import type { TransactionalOutput } from './transaction-batch.ts';

export type { ConsumedRecord, TransactionalStreamOptions } from './transactional-session.ts';
export type { TransactionalOutput } from './transaction-batch.ts';

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;

/**
 * Exactly-once read-process-write: consumes `topics`, writes what `process` makes of each record
 * and commits the consumed offsets in the same Kafka transactions (read_committed readers see a
 * transaction's records once, or never).
 *
 * It recovers by itself. Any failure of the session (a send, an offset commit, a commit or an
 * abort failing or not answering in time, a fenced producer, a coordinator loading or moved, an
 * unknown producer id, a consumer crash) throws the whole session away: the open transaction is
 * aborted where the broker still takes it, the outputs not committed are reported to `aborted`,
 * and after a backoff (250 ms doubling to 10 s, reset once a session commits) a new producer and
 * consumer start from the group's committed offsets. The new producer's transactional id fences
 * whatever the old one left open.
 */
export class TransactionalStream<T extends TransactionalOutput> {
  readonly #kafka: Kafka;
  readonly #options: TransactionalStreamOptions<T> & { recovered?: (error: Error) => void };
  #session: TransactionalSession<T> | undefined;
  #stopping = false;
  #wake: () => void = () => undefined;
  readonly #stopped: Promise<void>;
  #supervising: Promise<void> = Promise.resolve();

  constructor(kafka: Kafka, options: TransactionalStreamOptions<T> & { recovered?: (error: Error) => void }) {
    this.#kafka = kafka;
    this.#options = options;
    this.#stopped = new Promise((resolve) => (this.#wake = resolve));
  }

  /**
   * Starts the first session, trying again with the backoff for up to `startTimeoutMs` (a new
   * cluster creates its transaction log on the first transactional producer, which takes a while);
   * fails after that, and the service's start fails with it.
   */
  async start(startTimeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    for (let failures = 0; ; failures++) {
      const session = new TransactionalSession(this.#kafka, this.#options);
      try {
        await session.start();
        this.#session = session;
        break;
      } catch (error) {
        await session.close();
        const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** failures);
        if (Date.now() + delay >= deadline) throw error;
        this.#options.logger.warn('transactional stream could not start yet', {
          error: errorMessage(error),
          nextAttemptMs: delay,
        });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    this.#supervising = this.#supervise();
  }

  /** Commits what was consumed (or aborts a failed transaction) and leaves the group. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake();
    await this.#supervising;
    await this.#session?.close();
  }

  async #supervise(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      const session = this.#session!;
      const error = await Promise.race([session.ended, this.#stopped.then(() => undefined)]);
      if (error === undefined || this.#stopping) return;
      this.#options.logger.warn('transactional stream failed; starting again from the committed offsets', {
        error: errorMessage(error),
      });
      await session.close();
      if (session.commits > 0) failures = 0;
      while (!this.#stopping) {
        const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** failures);
        failures += 1;
        await Promise.race([new Promise((resolve) => setTimeout(resolve, delay)), this.#stopped]);
        if (this.#stopping) return;
        const next = new TransactionalSession(this.#kafka, this.#options);
        try {
          await next.start();
          this.#session = next;
          this.#options.recovered?.(error);
          this.#options.logger.info('transactional stream started again', { attempt: failures });
          break;
        } catch (startError) {
          this.#options.logger.warn('transactional stream could not start again', {
            error: errorMessage(startError),
            nextAttemptMs: Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** failures),
          });
          await next.close();
        }
      }
    }
  }
}
