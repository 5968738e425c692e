import type { KafkaMessage } from 'kafkajs';
import {
  ConfigurationError,
  errorMessage,
  InvalidEventError,
  parseTraceparent,
  PermanentError,
  SpanKind,
  type Logger,
  type TraceSpan,
  type Tracing,
} from '@muxly/common';
import type { DeliveryItem, DestinationInstance } from '../destinations/destination.ts';
import { scopedIdOf } from '@muxly/schemas';
import type { FailurePolicy, RouteDecision, RoutingTable } from '../pipeline/pipeline.ts';
import { retryDelayMs, sleep, type BackoffPolicy } from './backoff.ts';
import type { DeadLetter, DeadLetterWriter } from './dead-letters.ts';
import type { LiveReport, LiveReportSink } from './live-reports.ts';
import type { RouterMetrics } from './router.metrics.ts';

/**
 * One event of the events topic, decoded once and routed. Read-only: the destinations a rule
 * routes the event to share one (the same decision, the same event object).
 */
export interface RoutedEvent {
  partition: number;
  message: KafkaMessage;
  /** The decoded event, before the rule's transformations; absent when it did not decode. */
  event?: Record<string, unknown>;
  /** The JSON text the event was decoded from (a view of the record's value). */
  json?: Buffer;
  /** Why the record did not decode (it is dead-lettered). */
  decodeError?: Error;
  decision: RouteDecision;
  /** The route span's traceparent: each delivery attempt is a child span of it. */
  traceparent?: string | undefined;
}

export interface DeliveryOptions {
  destinationId: string;
  eventsTopic: string;
  instance: DestinationInstance;
  maxBatchSize: number;
  routing: () => RoutingTable;
  deadLetters: DeadLetterWriter;
  backoff: BackoffPolicy;
  metrics: RouterMetrics;
  logger: Logger;
  /** Where every outcome is reported for the live tap (best-effort, never awaited). */
  reports?: LiveReportSink;
  /** A client span per traced event and attempt; the destination sends its traceparent on. */
  tracing?: Tracing;
  /** The destination's type, for span names. */
  destinationType?: string;
}

const eventIdOf = (event: Record<string, unknown> | undefined): string | undefined =>
  typeof event?.id === 'string' ? event.id : undefined;

/**
 * Only errors that say a retry cannot help are given up at once (dead-lettered, or skipped or held
 * as the route's onFailure says); anything else (a RetryableError, but also an unexpected error
 * such as a full disk) is retried with backoff up to maxAttempts.
 */
const isPermanent = (error: Error): boolean =>
  error instanceof PermanentError || error instanceof InvalidEventError || error instanceof ConfigurationError;

interface Pending {
  item: DeliveryItem;
  /** The event's own id (the item's id is scoped by source), for the live reports. */
  eventId: string | undefined;
  ruleId: string;
  message: KafkaMessage;
  partition: number;
  /** The route's errorHandling.onFailure for the rule that routed this event. */
  onFailure: FailurePolicy;
  traceparent: string | undefined;
  attempts: number;
  firstFailedAt?: Date;
  lastError?: Error;
}

/**
 * Delivers routed events to one destination: sends in batches, retries with backoff, applies the
 * route's onFailure policy and writes dead letters. deliver() resolves once every event it was
 * given is delivered, filtered, skipped or dead-lettered; only then may their offsets be committed.
 *
 * NOTE (offsets): while a peer keeps failing, deliver() keeps retrying and does not return; when
 * `signal` aborts (stop, partition revoked) it throws, and the caller commits nothing of the
 * batch, so it is delivered again later (at-least-once). `alive` is called before each backoff:
 * the caller's liveness then tells a destination that refuses (retrying: alive) from a send that
 * never returns (stuck).
 */
export class Delivery {
  readonly #options: DeliveryOptions;
  readonly #labels: { destination: string };

  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.#labels = { destination: options.destinationId };
  }

  async deliver(entries: readonly RoutedEvent[], signal: AbortSignal, alive: () => void = () => {}): Promise<void> {
    const { metrics, destinationId } = this.#options;
    const pending: Pending[] = [];
    const letters: DeadLetter[] = [];
    // Reports of dead letters wait until the dead letters are written.
    const letterReports: LiveReport[] = [];
    let filtered = 0;
    for (const entry of entries) {
      const { message, partition } = entry;
      if (entry.decodeError || !entry.event) {
        const error = new InvalidEventError(errorMessage(entry.decodeError ?? 'the record has no value'));
        letters.push({ message, partition, error, attempts: 1, firstFailedAt: new Date() });
        letterReports.push(this.#report('dead-lettered', eventIdOf(entry.event), undefined, error, 1));
        continue;
      }
      let decision = entry.decision;
      if (decision.routed === 'error') {
        // A transformation that throws on this event (e.g. a value it cannot convert).
        const error = new InvalidEventError(
          `rule ${decision.ruleId} failed on this event: ${errorMessage(decision.error)}`,
        );
        if (decision.onFailure === 'dead-letter') {
          letters.push({ message, partition, error, attempts: 1, firstFailedAt: new Date() });
          letterReports.push(this.#report('dead-lettered', eventIdOf(entry.event), decision.ruleId, error, 1));
          continue;
        }
        if (decision.onFailure === 'continue') {
          this.#skip(message, partition, error);
          this.#options.reports?.add([this.#report('skipped', eventIdOf(entry.event), decision.ruleId, error, 1)]);
          continue;
        }
        decision = await this.#holdUntilDecided(entry.event, message, partition, error, signal, alive);
      }
      if (!decision.routed) {
        filtered += 1;
        continue;
      }
      // Destinations key upserts and idempotency headers on this id: scoped by the event's source,
      // so a writer reusing another source's ids cannot overwrite or suppress its events.
      const id = scopedIdOf(entry.event) ?? `${this.#options.eventsTopic}-${partition}-${message.offset}`;
      pending.push({
        item: {
          event: decision.event,
          // Only the very object decoded from these bytes (no rule changed it) goes with them.
          json: decision.event === entry.event ? entry.json : undefined,
          id,
          topic: this.#options.eventsTopic,
          partition,
          offset: message.offset,
        },
        eventId: eventIdOf(entry.event),
        ruleId: decision.ruleId,
        message,
        partition,
        onFailure: decision.onFailure,
        traceparent: entry.traceparent,
        attempts: 0,
      });
    }
    if (filtered > 0) metrics.filtered.inc(this.#labels, filtered);

    for (let start = 0; start < pending.length; start += this.#options.maxBatchSize) {
      const batch = pending.slice(start, start + this.#options.maxBatchSize);
      letters.push(...(await this.#sendWithRetries(batch, signal, alive, letterReports)));
    }
    if (letters.length > 0) {
      await this.#options.deadLetters.write(destinationId, letters);
      this.#options.reports?.add(letterReports);
      metrics.deadLettered.inc(this.#labels, letters.length);
      this.#options.logger.warn('events dead-lettered', {
        destination: destinationId,
        count: letters.length,
        reason: letters[0]?.error.message,
      });
    }
  }

  #report(
    outcome: LiveReport['outcome'],
    eventId: string | undefined,
    ruleId: string | undefined,
    error?: Error,
    attempts?: number,
  ): LiveReport {
    // Absent fields stay undefined: JSON leaves them out, and no spread costs time per event.
    return {
      destinationId: this.#options.destinationId,
      outcome,
      eventId,
      ruleId,
      error: error?.message.slice(0, 300),
      attempts,
    };
  }

  /** onFailure "continue": the event is given up on purpose, counted and logged, not dead-lettered. */
  #skip(message: KafkaMessage, partition: number, error: Error): void {
    this.#options.metrics.skipped.inc(this.#labels);
    this.#options.logger.warn('event skipped (route onFailure: continue)', {
      destination: this.#options.destinationId,
      partition,
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
    partition: number,
    error: Error,
    signal: AbortSignal,
    alive: () => void,
  ): Promise<Exclude<RouteDecision, { routed: 'error' }>> {
    const { metrics, backoff, logger, destinationId } = this.#options;
    metrics.stopped.set(this.#labels, 1);
    try {
      for (let round = 1; ; round += 1) {
        logger.error('destination stopped at an event its rule cannot process (route onFailure: stop)', {
          destination: destinationId,
          partition,
          offset: message.offset,
          error: error.message,
        });
        // Held on purpose (the route says stop), not stuck: a restart would hold at the same event.
        alive();
        await sleep(retryDelayMs(backoff, round), signal);
        const decision = this.#options.routing().decide(event, destinationId);
        if (decision.routed !== 'error') return decision;
      }
    } finally {
      metrics.stopped.set(this.#labels, 0);
    }
  }

  /**
   * One client span per traced event for this attempt (a retry is a new span of the same trace);
   * the item carries its traceparent for the destination to send on (an HTTP header).
   */
  #startAttemptSpans(entries: Pending[]): (TraceSpan | undefined)[] | undefined {
    const { tracing, destinationId, destinationType } = this.#options;
    if (!tracing) return undefined;
    return entries.map((entry) => {
      if (!entry.traceparent) return undefined;
      const span = tracing.startSpan(`deliver ${destinationType ?? destinationId}`, {
        parent: entry.traceparent,
        kind: SpanKind.CLIENT,
        attributes: {
          'muxly.destination.id': destinationId,
          ...(destinationType ? { 'muxly.destination.type': destinationType } : {}),
          'muxly.event.id': entry.item.id,
          'muxly.delivery.attempt': entry.attempts + 1,
        },
      });
      entry.item.traceparent = span.traceparent;
      return span;
    });
  }

  /** Sends until every item is delivered or dead-lettered; returns the dead letters (their reports go to letterReports). */
  async #sendWithRetries(
    batch: Pending[],
    signal: AbortSignal,
    alive: () => void,
    letterReports: LiveReport[],
  ): Promise<DeadLetter[]> {
    const { instance, metrics, backoff, logger, destinationId, reports } = this.#options;
    const letters: DeadLetter[] = [];
    let remaining = batch;
    for (let round = 1; remaining.length > 0; round += 1) {
      const failures = new Map<number, Error>();
      const notSent = new Set<number>();
      const spans = this.#startAttemptSpans(remaining);
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
      spans?.forEach((span, index) => span?.end(notSent.has(index) ? undefined : failures.get(index)));
      const next: Pending[] = [];
      let retryAfterMs: number | undefined;
      let held = 0;
      let again = 0;
      const outcomes: LiveReport[] = [];
      remaining.forEach((entry, index) => {
        if (notSent.has(index)) {
          next.push(entry);
          return;
        }
        entry.attempts += 1;
        const error = failures.get(index);
        if (!error) {
          if (reports) outcomes.push(this.#report('delivered', entry.eventId, entry.ruleId, undefined, entry.attempts));
          return;
        }
        entry.firstFailedAt ??= new Date();
        entry.lastError = error;
        const givenUp = isPermanent(error) || entry.attempts >= backoff.maxAttempts;
        if (!givenUp || entry.onFailure === 'stop') {
          // NOTE (stop): retried without an attempt limit; the batch, hence the commit, waits for it.
          if (givenUp) held += 1;
          again += 1;
          next.push(entry);
          if (reports) outcomes.push(this.#report('retrying', entry.eventId, entry.ruleId, error, entry.attempts));
          const wait = (error as { retryAfterMs?: number }).retryAfterMs;
          if (wait !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, wait);
        } else if (entry.onFailure === 'continue') {
          this.#skip(entry.message, entry.partition, error);
          if (reports) outcomes.push(this.#report('skipped', entry.eventId, entry.ruleId, error, entry.attempts));
        } else {
          letterReports.push(this.#report('dead-lettered', entry.eventId, entry.ruleId, error, entry.attempts));
          letters.push({
            message: entry.message,
            partition: entry.partition,
            error,
            attempts: entry.attempts,
            firstFailedAt: entry.firstFailedAt,
          });
        }
      });
      reports?.add(outcomes);
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
          trace_id: parseTraceparent(next[0]?.traceparent)?.traceId,
        });
      } else {
        logger.warn('delivery failed; retrying', {
          destination: destinationId,
          events: next.length,
          attempt: round,
          delayMs: delay,
          error: next[0]?.lastError?.message,
          trace_id: parseTraceparent(next[0]?.traceparent)?.traceId,
        });
      }
      alive();
      try {
        await sleep(delay, signal);
      } catch (error) {
        metrics.stopped.set(this.#labels, 0);
        throw error;
      }
      metrics.retried.inc(this.#labels, again);
      remaining = next;
    }
    return letters;
  }
}
