import type { Kafka, KafkaMessage } from 'kafkajs';
import {
  BatchConsumer,
  ConfigurationError,
  decodeWireFormat,
  errorMessage,
  InvalidEventError,
  PermanentError,
  type BatchContext,
  type Logger,
  type ProgressTracker,
} from '@muxly/common';
import type { DeliveryItem, DestinationInstance } from '../destinations/destination.ts';
import type { FailurePolicy, RouteDecision, RoutingTable } from '../pipeline/pipeline.ts';
import { retryDelayMs, sleep, type BackoffPolicy } from './backoff.ts';
import type { DeadLetter, DeadLetterWriter } from './dead-letters.ts';
import type { RouterMetrics } from './router.metrics.ts';

export interface DestinationWorkerOptions {
  kafka: Kafka;
  destinationId: string;
  groupId: string;
  eventsTopic: string;
  instance: DestinationInstance;
  maxBatchSize: number;
  routing: () => RoutingTable;
  deadLetters: DeadLetterWriter;
  backoff: BackoffPolicy;
  metrics: RouterMetrics;
  /** Liveness: the worker's consumer loop reports its progress here. */
  progress?: ProgressTracker;
  logger: Logger;
}

/**
 * Only errors that say a retry cannot help are given up at once (dead-lettered, or skipped or held
 * as the route's onFailure says); anything else (a RetryableError, but also an unexpected error
 * such as a full disk) is retried with backoff up to maxAttempts.
 */
const isPermanent = (error: Error): boolean =>
  error instanceof PermanentError || error instanceof InvalidEventError || error instanceof ConfigurationError;

interface Pending {
  item: DeliveryItem;
  message: KafkaMessage;
  /** The route's errorHandling.onFailure for the rule that routed this event. */
  onFailure: FailurePolicy;
  attempts: number;
  firstFailedAt?: Date;
  lastError?: Error;
}

/**
 * Delivers `muxly.events` to one destination through its own consumer group, so a slow or failing
 * destination never holds back another and can be replayed alone.
 *
 * NOTE (offsets): a chunk's offsets are committed by BatchConsumer only after deliver() resolved,
 * that is after every event of the chunk was delivered, filtered by the rules, or written to the
 * DLQ. While a peer keeps failing, deliver() keeps retrying (heartbeating) and does not return;
 * on shutdown it throws, so nothing of the unfinished chunk is committed and it is redelivered.
 */
export class DestinationWorker {
  readonly #options: DestinationWorkerOptions;
  readonly #consumer: BatchConsumer;
  readonly #stopping = new AbortController();
  readonly #labels: { destination: string };

  constructor(options: DestinationWorkerOptions) {
    this.#options = options;
    this.#labels = { destination: options.destinationId };
    this.#consumer = new BatchConsumer(options.kafka, {
      groupId: options.groupId,
      topics: [options.eventsTopic],
      chunkSize: Math.max(options.maxBatchSize, 1),
      progress: options.progress,
      logger: options.logger,
    });
  }

  start(): Promise<void> {
    return this.#consumer.start((messages, context) => this.#deliver(messages, context));
  }

  async #deliver(messages: KafkaMessage[], context: BatchContext): Promise<void> {
    const { metrics, destinationId } = this.#options;
    const pending: Pending[] = [];
    const letters: DeadLetter[] = [];
    for (const message of messages) {
      let event: Record<string, unknown>;
      try {
        event = decodeWireFormat(message.value ?? Buffer.alloc(0)).value as Record<string, unknown>;
      } catch (error) {
        letters.push({
          message,
          partition: context.partition,
          error: new InvalidEventError(errorMessage(error)),
          attempts: 1,
          firstFailedAt: new Date(),
        });
        continue;
      }
      // Read per event: a live reload applies from the next event on.
      let decision = this.#options.routing().decide(event, destinationId);
      if (decision.routed === 'error') {
        // A transformation that throws on this event (e.g. a value it cannot convert).
        const error = new InvalidEventError(
          `rule ${decision.ruleId} failed on this event: ${errorMessage(decision.error)}`,
        );
        if (decision.onFailure === 'dead-letter') {
          letters.push({ message, partition: context.partition, error, attempts: 1, firstFailedAt: new Date() });
          continue;
        }
        if (decision.onFailure === 'continue') {
          this.#skip(message, context, error);
          continue;
        }
        decision = await this.#holdUntilDecided(event, message, context, error);
      }
      if (!decision.routed) {
        metrics.filtered.inc(this.#labels);
        continue;
      }
      const id = typeof event.id === 'string' ? event.id : `${context.topic}-${context.partition}-${message.offset}`;
      pending.push({
        item: { event: decision.event, id, topic: context.topic, partition: context.partition, offset: message.offset },
        message,
        onFailure: decision.onFailure,
        attempts: 0,
      });
    }

    for (let start = 0; start < pending.length; start += this.#options.maxBatchSize) {
      letters.push(...(await this.#sendWithRetries(pending.slice(start, start + this.#options.maxBatchSize), context)));
    }
    if (letters.length > 0) {
      await this.#options.deadLetters.write(destinationId, letters);
      metrics.deadLettered.inc(this.#labels, letters.length);
      this.#options.logger.warn('events dead-lettered', {
        destination: destinationId,
        count: letters.length,
        reason: letters[0]?.error.message,
      });
    }
    const last = messages[messages.length - 1];
    if (last) {
      const lag = Number(BigInt(context.highWatermark) - BigInt(last.offset) - 1n);
      metrics.lag.set({ ...this.#labels, partition: String(context.partition) }, Math.max(0, lag));
    }
  }

  /** onFailure "continue": the event is given up on purpose, counted and logged, not dead-lettered. */
  #skip(message: KafkaMessage, context: BatchContext, error: Error): void {
    this.#options.metrics.skipped.inc(this.#labels);
    this.#options.logger.warn('event skipped (route onFailure: continue)', {
      destination: this.#options.destinationId,
      partition: context.partition,
      offset: message.offset,
      error: error.message,
    });
  }

  /**
   * onFailure "stop" for a rule that throws: the destination holds at this event and evaluates it
   * again with the current rules after each backoff, so a corrected rule (live reload) releases it.
   */
  async #holdUntilDecided(
    event: Record<string, unknown>,
    message: KafkaMessage,
    context: BatchContext,
    error: Error,
  ): Promise<Exclude<RouteDecision, { routed: 'error' }>> {
    const { metrics, backoff, logger, destinationId } = this.#options;
    metrics.stopped.set(this.#labels, 1);
    try {
      for (let round = 1; ; round += 1) {
        logger.error('destination stopped at an event its rule cannot process (route onFailure: stop)', {
          destination: destinationId,
          partition: context.partition,
          offset: message.offset,
          error: error.message,
        });
        await this.#wait(retryDelayMs(backoff, round), context);
        const decision = this.#options.routing().decide(event, destinationId);
        if (decision.routed !== 'error') return decision;
      }
    } finally {
      metrics.stopped.set(this.#labels, 0);
    }
  }

  /** Sends until every item is delivered or dead-lettered; returns the dead letters. */
  async #sendWithRetries(batch: Pending[], context: BatchContext): Promise<DeadLetter[]> {
    const { instance, metrics, backoff, logger, destinationId } = this.#options;
    const letters: DeadLetter[] = [];
    let remaining = batch;
    for (let round = 1; remaining.length > 0; round += 1) {
      const failures = new Map<number, Error>();
      const notSent = new Set<number>();
      const timer = metrics.sendSeconds.startTimer(this.#labels);
      try {
        const result = await instance.send(remaining.map((entry) => entry.item));
        for (const failure of result?.failures ?? []) failures.set(failure.index, failure.error);
        for (const index of result?.notSent ?? []) if (!failures.has(index)) notSent.add(index);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        remaining.forEach((_, index) => failures.set(index, failure));
      } finally {
        timer();
      }
      const next: Pending[] = [];
      let retryAfterMs: number | undefined;
      let held = 0;
      let again = 0;
      remaining.forEach((entry, index) => {
        if (notSent.has(index)) {
          next.push(entry);
          return;
        }
        entry.attempts += 1;
        const error = failures.get(index);
        if (!error) return;
        entry.firstFailedAt ??= new Date();
        entry.lastError = error;
        const givenUp = isPermanent(error) || entry.attempts >= backoff.maxAttempts;
        if (!givenUp || entry.onFailure === 'stop') {
          // NOTE (stop): retried without an attempt limit; the chunk, hence the commit, waits for it.
          if (givenUp) held += 1;
          again += 1;
          next.push(entry);
          const wait = (error as { retryAfterMs?: number }).retryAfterMs;
          if (wait !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, wait);
        } else if (entry.onFailure === 'continue') {
          this.#skip(entry.message, context, error);
        } else {
          letters.push({
            message: entry.message,
            partition: context.partition,
            error,
            attempts: entry.attempts,
            firstFailedAt: entry.firstFailedAt,
          });
        }
      });
      metrics.delivered.inc(this.#labels, remaining.length - failures.size - notSent.size);
      if (failures.size > 0) metrics.failed.inc(this.#labels, failures.size);
      metrics.stopped.set(this.#labels, held > 0 ? 1 : 0);
      if (next.length === 0) break;
      const delay = retryDelayMs(backoff, round, retryAfterMs);
      if (held > 0) {
        logger.error('destination stopped at events it cannot deliver (route onFailure: stop); retrying', {
          destination: destinationId,
          events: held,
          attempt: round,
          delayMs: delay,
          error: next[0]?.lastError?.message,
        });
      } else {
        logger.warn('delivery failed; retrying', {
          destination: destinationId,
          events: next.length,
          attempt: round,
          delayMs: delay,
          error: next[0]?.lastError?.message,
        });
      }
      try {
        await this.#wait(delay, context);
      } catch (error) {
        metrics.stopped.set(this.#labels, 0);
        throw error;
      }
      metrics.retried.inc(this.#labels, again);
      remaining = next;
    }
    return letters;
  }

  /** Waits out a backoff while keeping the group membership alive; throws when stopping. */
  async #wait(delayMs: number, context: BatchContext): Promise<void> {
    const deadline = Date.now() + delayMs;
    while (Date.now() < deadline) {
      if (!context.shouldContinue() || this.#stopping.signal.aborted)
        throw new Error('stopping: the unfinished chunk will be redelivered');
      await sleep(Math.min(2_000, deadline - Date.now()), this.#stopping.signal);
      await context.heartbeat();
    }
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new Error('stopping: the unfinished chunk will be redelivered'));
    await this.#consumer.stop();
  }
}
