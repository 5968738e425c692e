import { RetryableError, TRACEPARENT, type KafkaProducer } from '@muxly/common';

export interface RawWriterOptions {
  topic: string;
  /** Longest wait for acks=all before the request is answered 503. */
  sendTimeoutMs: number;
  /** Most writes waiting for Kafka at once; beyond it a request is refused at once (503). */
  maxInFlight: number;
  /** Most bytes of records in one produce request (keeps each partition's batch under the topic's max.message.bytes). */
  maxBatchBytes?: number;
}

/** Refused before anything was handed to Kafka: too much is already waiting for the broker. */
export class BacklogFullError extends RetryableError {}

interface Pending {
  value: string;
  traceparent: string | undefined;
  bytes: number;
  resolve: () => void;
  reject: (error: unknown) => void;
  /** The request gave up (timeout) before the record was handed to Kafka: never send it. */
  abandoned: boolean;
}

/**
 * Writes one raw record per accepted request and resolves once Kafka acknowledged it (acks=all,
 * idempotent producer).
 *
 * Records of concurrent requests are coalesced: while one produce request is in flight, the next
 * ones queue, and all that queued go together in the next produce request. A broker acknowledges
 * records per produce request, and the idempotent producer keeps one request in flight, so this
 * turns N round trips into one without adding a wait when the writer is idle. Each request is
 * still one record: it is acknowledged, or refused, whole.
 *
 * The producer wrapper keeps each record's partition across kafkajs's retries and takes a new
 * producer id after a failed send, so an acknowledgement always means the record was written
 * (see KafkaProducer).
 *
 * NOTE: a record already handed to kafkajs whose request timed out is still retried by kafkajs in
 * the background (a 503 may turn out written: at-least-once, never a false 202). A record still
 * queued when its request times out is dropped, never sent. The in-flight count follows the
 * records, not the requests, so while the broker is away the backlog stays bounded and further
 * requests get an immediate 503 instead of queueing work nobody waits for.
 */
export class RawWriter {
  readonly #producer: KafkaProducer;
  readonly #options: Required<RawWriterOptions>;
  readonly #queue: Pending[] = [];
  #inFlight = 0;
  #sending = false;

  constructor(producer: KafkaProducer, options: RawWriterOptions) {
    this.#producer = producer;
    this.#options = { maxBatchBytes: 1_000_000, ...options };
  }

  get topic(): string {
    return this.#options.topic;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Writes one record; `traceparent` goes with it as a header (the trace it belongs to). */
  async write(value: string, traceparent?: string): Promise<void> {
    if (this.#inFlight >= this.#options.maxInFlight) {
      throw new BacklogFullError(`${this.#inFlight} writes are already waiting for Kafka`, { retryAfterMs: 1_000 });
    }
    this.#inFlight += 1;
    let entry!: Pending;
    const acknowledged = new Promise<void>((resolve, reject) => {
      entry = {
        value,
        traceparent,
        // The header counts toward the produce request's size (name, value and framing).
        bytes: Buffer.byteLength(value) + (traceparent ? 80 : 0),
        resolve,
        reject,
        abandoned: false,
      };
    });
    // Settled exactly once, by the produce request or by being dropped from the queue.
    void acknowledged.then(
      () => (this.#inFlight -= 1),
      () => (this.#inFlight -= 1),
    );
    this.#queue.push(entry);
    this.#pump();

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        entry.abandoned = true;
        reject(new RetryableError(`Kafka did not acknowledge within ${this.#options.sendTimeoutMs} ms`));
      }, this.#options.sendTimeoutMs);
    });
    try {
      await Promise.race([acknowledged, timeout]);
    } catch (error) {
      if (error instanceof RetryableError) throw error;
      throw new RetryableError(`Kafka write failed: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends everything queued (up to the byte cap) as one produce request, if none is in flight. */
  #pump(): void {
    if (this.#sending) return;
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (next.abandoned) {
        this.#queue.shift();
        next.reject(new RetryableError('abandoned before it was sent'));
        continue;
      }
      if (batch.length > 0 && bytes + next.bytes > this.#options.maxBatchBytes) break;
      this.#queue.shift();
      batch.push(next);
      bytes += next.bytes;
    }
    if (batch.length === 0) return;
    this.#sending = true;
    this.#producer
      .sendAndWait(
        batch.map((entry) => ({
          topic: this.#options.topic,
          key: null,
          value: entry.value,
          ...(entry.traceparent ? { headers: { [TRACEPARENT]: entry.traceparent } } : {}),
        })),
      )
      .then(
        () => batch.forEach((entry) => entry.resolve()),
        (error: unknown) => batch.forEach((entry) => entry.reject(error)),
      )
      .finally(() => {
        this.#sending = false;
        this.#pump();
      });
  }
}
