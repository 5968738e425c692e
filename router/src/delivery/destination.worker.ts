import type { Kafka, KafkaMessage } from 'kafkajs';
import { BatchConsumer, ConfigurationError, decodeWireFormat, errorMessage, InvalidEventError, PermanentError, type BatchContext, type Logger } from '@muxly/common';
import type { DeliveryItem, DestinationInstance } from '../destinations/destination.ts';
import type { RoutingTable } from '../pipeline/pipeline.ts';
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
  logger: Logger;
}

/**
 * Only errors that say a retry cannot help go to the DLQ at once; anything else (a RetryableError,
 * but also an unexpected error such as a full disk) is retried with backoff up to maxAttempts.
 */
const isPermanent = (error: Error): boolean =>
  error instanceof PermanentError || error instanceof InvalidEventError || error instanceof ConfigurationError;

interface Pending {
  item: DeliveryItem;
  message: KafkaMessage;
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
      logger: options.logger,
    });
  }

  start(): Promise<void> {
    return this.#consumer.start((messages, context) => this.#deliver(messages, context));
  }

  async #deliver(messages: KafkaMessage[], context: BatchContext): Promise<void> {
    const { metrics, destinationId } = this.#options;
    const routing = this.#options.routing();
    const pending: Pending[] = [];
    const letters: DeadLetter[] = [];
    for (const message of messages) {
      let event: Record<string, unknown>;
      try {
        event = decodeWireFormat(message.value ?? Buffer.alloc(0)).value as Record<string, unknown>;
      } catch (error) {
        letters.push({ message, partition: context.partition, error: new InvalidEventError(errorMessage(error)), attempts: 1, firstFailedAt: new Date() });
        continue;
      }
      let decision;
      try {
        decision = routing.decide(event, destinationId);
      } catch (error) {
        // A transformation that throws on this event (e.g. a value it cannot convert).
        letters.push({ message, partition: context.partition, error: new InvalidEventError(`rule evaluation failed: ${errorMessage(error)}`), attempts: 1, firstFailedAt: new Date() });
        continue;
      }
      if (!decision.routed) {
        metrics.filtered.inc(this.#labels);
        continue;
      }
      const id = typeof event.id === 'string' ? event.id : `${context.topic}-${context.partition}-${message.offset}`;
      pending.push({ item: { event: decision.event, id, topic: context.topic, partition: context.partition, offset: message.offset }, message, attempts: 0 });
    }

    for (let start = 0; start < pending.length; start += this.#options.maxBatchSize) {
      letters.push(...(await this.#sendWithRetries(pending.slice(start, start + this.#options.maxBatchSize), context)));
    }
    if (letters.length > 0) {
      await this.#options.deadLetters.write(destinationId, letters);
      metrics.deadLettered.inc(this.#labels, letters.length);
      this.#options.logger.warn('events dead-lettered', { destination: destinationId, count: letters.length, reason: letters[0]?.error.message });
    }
    const last = messages[messages.length - 1];
    if (last) {
      const lag = Number(BigInt(context.highWatermark) - BigInt(last.offset) - 1n);
      metrics.lag.set({ ...this.#labels, partition: String(context.partition) }, Math.max(0, lag));
    }
  }

  /** Sends until every item is delivered or dead-lettered; returns the dead letters. */
  async #sendWithRetries(batch: Pending[], context: BatchContext): Promise<DeadLetter[]> {
    const { instance, metrics, backoff, logger, destinationId } = this.#options;
    const letters: DeadLetter[] = [];
    let remaining = batch;
    for (let round = 1; remaining.length > 0; round += 1) {
      const failures = new Map<number, Error>();
      const timer = metrics.sendSeconds.startTimer(this.#labels);
      try {
        const result = await instance.send(remaining.map((entry) => entry.item));
        for (const failure of result?.failures ?? []) failures.set(failure.index, failure.error);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        remaining.forEach((_, index) => failures.set(index, failure));
      } finally {
        timer();
      }
      const next: Pending[] = [];
      let retryAfterMs: number | undefined;
      remaining.forEach((entry, index) => {
        entry.attempts += 1;
        const error = failures.get(index);
        if (!error) return;
        entry.firstFailedAt ??= new Date();
        entry.lastError = error;
        if (!isPermanent(error) && entry.attempts < backoff.maxAttempts) {
          next.push(entry);
          const wait = (error as { retryAfterMs?: number }).retryAfterMs;
          if (wait !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, wait);
        } else {
          letters.push({ message: entry.message, partition: context.partition, error, attempts: entry.attempts, firstFailedAt: entry.firstFailedAt });
        }
      });
      metrics.delivered.inc(this.#labels, remaining.length - failures.size);
      if (failures.size > 0) metrics.failed.inc(this.#labels, failures.size);
      if (next.length === 0) break;
      const delay = retryDelayMs(backoff, round, retryAfterMs);
      logger.warn('delivery failed; retrying', { destination: destinationId, events: next.length, attempt: round, delayMs: delay, error: next[0]?.lastError?.message });
      await this.#wait(delay, context);
      metrics.retried.inc(this.#labels, next.length);
      remaining = next;
    }
    return letters;
  }

  /** Waits out a backoff while keeping the group membership alive; throws when stopping. */
  async #wait(delayMs: number, context: BatchContext): Promise<void> {
    const deadline = Date.now() + delayMs;
    while (Date.now() < deadline) {
      if (!context.shouldContinue() || this.#stopping.signal.aborted) throw new Error('stopping: the unfinished chunk will be redelivered');
      await sleep(Math.min(2_000, deadline - Date.now()), this.#stopping.signal);
      await context.heartbeat();
    }
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new Error('stopping: the unfinished chunk will be redelivered'));
    await this.#consumer.stop();
  }
}
