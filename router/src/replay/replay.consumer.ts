import type { Kafka, KafkaMessage } from 'kafkajs';
import {
  BatchConsumer,
  ConfigurationError,
  errorMessage,
  InvalidEventError,
  PermanentError,
  type BatchContext,
  type KafkaProducer,
  type Logger,
} from '@muxly/common';
import { DLQ_HEADERS, REPLAY_HEADERS, scopedIdOf, type DeliveryReport } from '@muxly/schemas';
import { retryDelayMs, sleep, type BackoffPolicy } from '../delivery/backoff.ts';
import type { DeliveryItem, DestinationInstance } from '../destinations/destination.ts';
import { decodeEvent } from '../destinations/event-json.ts';
import type { RoutingTable } from '../pipeline/pipeline.ts';
import type { DeliveryReports } from './delivery-reports.ts';

// Delivers replayed dead letters (`muxly.replay`), each ONLY to the destination named in its
// headers, with the current rules and transformations for that destination. One consumer group
// for all router instances: each record is handled once, by whichever instance reads it.

export interface ReplayTarget {
  instance: DestinationInstance;
  maxBatchSize: number;
}

export interface ReplayConsumerOptions {
  kafka: Kafka;
  topic: string;
  groupId: string;
  dlqTopic: string;
  producer: KafkaProducer;
  reports: DeliveryReports;
  /** The running destination with this id, if any. */
  target(destinationId: string): ReplayTarget | undefined;
  routing(): RoutingTable;
  backoff: BackoffPolicy;
  logger: Logger;
}

interface Replayed {
  message: KafkaMessage;
  headers: Record<string, string>;
  destinationId: string;
  eventId?: string;
  ruleId?: string;
  item?: DeliveryItem;
  attempts: number;
  error?: Error;
  outcome?: DeliveryReport['outcome'];
}

const isPermanent = (error: Error): boolean =>
  error instanceof PermanentError || error instanceof InvalidEventError || error instanceof ConfigurationError;

function headersOf(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const one = Array.isArray(value) ? value[0] : value;
    if (one !== undefined) headers[name] = one.toString();
  }
  return headers;
}

/**
 * NOTE (offsets): a chunk is committed after every record of it was delivered, filtered or
 * dead-lettered again (with a report); stopping during retries throws, so the chunk is read again
 * after a restart (at-least-once, like live delivery: destinations that upsert by id keep one row).
 */
export class ReplayConsumer {
  readonly #options: ReplayConsumerOptions;
  readonly #consumer: BatchConsumer;
  readonly #stopping = new AbortController();

  constructor(options: ReplayConsumerOptions) {
    this.#options = options;
    this.#consumer = new BatchConsumer(options.kafka, {
      groupId: options.groupId,
      topics: [options.topic],
      fromBeginning: true,
      chunkSize: 200,
      logger: options.logger,
    });
  }

  start(): Promise<void> {
    return this.#consumer.start((messages, context) => this.#handle(messages, context));
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new Error('stopping: the unfinished replay chunk will be read again'));
    await this.#consumer.stop();
  }

  async #handle(messages: KafkaMessage[], context: BatchContext): Promise<void> {
    const byDestination = new Map<string, Replayed[]>();
    for (const message of messages) {
      const headers = headersOf(message);
      const destinationId = headers[REPLAY_HEADERS.destinationId] ?? '';
      const entry: Replayed = { message, headers, destinationId, attempts: 0 };
      let list = byDestination.get(destinationId);
      if (!list) byDestination.set(destinationId, (list = []));
      list.push(entry);
    }
    const all: Replayed[] = [];
    for (const [destinationId, entries] of byDestination) {
      all.push(...entries);
      await this.#deliver(destinationId, entries, context);
    }
    await this.#deadLetter(all.filter((entry) => entry.outcome === 'dead-lettered'));
    await this.#options.reports
      .publish(
        all.map((entry) => ({
          destinationId: entry.destinationId,
          outcome: entry.outcome ?? 'dead-lettered',
          ...(entry.eventId ? { eventId: entry.eventId } : {}),
          ...(entry.ruleId ? { ruleId: entry.ruleId } : {}),
          ...(entry.error ? { error: entry.error.message.slice(0, 500) } : {}),
          replayId: entry.headers[REPLAY_HEADERS.replayId],
          deadLetterId: entry.headers[REPLAY_HEADERS.deadLetterId],
        })),
      )
      .catch((error: unknown) =>
        this.#options.logger.warn('delivery reports not published', { error: errorMessage(error) }),
      );
  }

  async #deliver(destinationId: string, entries: Replayed[], context: BatchContext): Promise<void> {
    const giveUp = (entry: Replayed, error: Error) => {
      entry.outcome = 'dead-lettered';
      entry.error = error;
      entry.attempts = Math.max(entry.attempts, 1);
    };
    const target = this.#options.target(destinationId);
    if (!target) {
      for (const entry of entries)
        giveUp(entry, new ConfigurationError(`destination "${destinationId}" is not running (deleted or disabled)`));
      return;
    }
    const pending: Replayed[] = [];
    for (const entry of entries) {
      let event: Record<string, unknown>;
      let json: Buffer;
      try {
        ({ event, json } = decodeEvent(entry.message.value ?? Buffer.alloc(0)));
      } catch (error) {
        giveUp(entry, new InvalidEventError(errorMessage(error)));
        continue;
      }
      if (typeof event.id === 'string') entry.eventId = event.id;
      const decision = this.#options.routing().decide(event, destinationId);
      if (decision.routed === 'error') {
        giveUp(
          entry,
          new InvalidEventError(`rule ${decision.ruleId} failed on this event: ${errorMessage(decision.error)}`),
        );
        continue;
      }
      if (!decision.routed) {
        entry.outcome = 'filtered';
        continue;
      }
      entry.ruleId = decision.ruleId;
      entry.item = {
        event: decision.event,
        json: decision.event === event ? json : undefined,
        id: scopedIdOf(event) ?? `${context.topic}-${context.partition}-${entry.message.offset}`,
        topic: entry.headers[DLQ_HEADERS.originalTopic] || context.topic,
        partition: Number(entry.headers[DLQ_HEADERS.originalPartition] ?? context.partition),
        offset: entry.headers[DLQ_HEADERS.originalOffset] || entry.message.offset,
      };
      pending.push(entry);
    }
    for (let start = 0; start < pending.length; start += target.maxBatchSize)
      await this.#sendWithRetries(target.instance, pending.slice(start, start + target.maxBatchSize), context);
  }

  async #sendWithRetries(instance: DestinationInstance, batch: Replayed[], context: BatchContext): Promise<void> {
    const { backoff } = this.#options;
    let remaining = batch;
    for (let round = 1; remaining.length > 0; round += 1) {
      const failures = new Map<number, Error>();
      const notSent = new Set<number>();
      try {
        const result = await instance.send(remaining.map((entry) => entry.item!));
        for (const failure of result?.failures ?? []) failures.set(failure.index, failure.error);
        for (const index of result?.notSent ?? []) if (!failures.has(index)) notSent.add(index);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        remaining.forEach((_, index) => failures.set(index, failure));
      }
      const next: Replayed[] = [];
      let retryAfterMs: number | undefined;
      remaining.forEach((entry, index) => {
        if (notSent.has(index)) return void next.push(entry);
        entry.attempts += 1;
        const error = failures.get(index);
        if (!error) return void (entry.outcome = 'delivered');
        if (isPermanent(error) || entry.attempts >= backoff.maxAttempts) {
          entry.outcome = 'dead-lettered';
          entry.error = error;
          return;
        }
        next.push(entry);
        const wait = (error as { retryAfterMs?: number }).retryAfterMs;
        if (wait !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, wait);
      });
      if (next.length === 0) return;
      await this.#wait(retryDelayMs(backoff, round, retryAfterMs), context);
      remaining = next;
    }
  }

  async #wait(delayMs: number, context: BatchContext): Promise<void> {
    const deadline = Date.now() + delayMs;
    while (Date.now() < deadline) {
      if (!context.shouldContinue() || this.#stopping.signal.aborted)
        throw new Error('stopping: the unfinished replay chunk will be read again');
      await sleep(Math.min(2_000, deadline - Date.now()), this.#stopping.signal);
      await context.heartbeat();
    }
  }

  /** Writes replayed records that failed again as new dead letters, with their original position. */
  async #deadLetter(entries: Replayed[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#options.producer.send(
      entries.map((entry) => ({
        topic: this.#options.dlqTopic,
        key: entry.message.key,
        value: entry.message.value ?? Buffer.alloc(0),
        headers: {
          [DLQ_HEADERS.originalTopic]: entry.headers[DLQ_HEADERS.originalTopic] ?? '',
          [DLQ_HEADERS.originalPartition]: entry.headers[DLQ_HEADERS.originalPartition] ?? '',
          [DLQ_HEADERS.originalOffset]: entry.headers[DLQ_HEADERS.originalOffset] ?? '',
          [DLQ_HEADERS.stage]: 'router',
          [DLQ_HEADERS.destinationId]: entry.destinationId,
          [DLQ_HEADERS.errorClass]: entry.error?.name ?? 'Error',
          [DLQ_HEADERS.errorMessage]: (entry.error?.message ?? 'replay failed').slice(0, 2_000),
          [DLQ_HEADERS.attempts]: String(entry.attempts),
          [DLQ_HEADERS.firstFailedAt]: new Date().toISOString(),
          [REPLAY_HEADERS.replayId]: entry.headers[REPLAY_HEADERS.replayId] ?? '',
        },
      })),
    );
  }
}
