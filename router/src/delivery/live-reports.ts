import { errorMessage, type KafkaProducer, type Logger } from '@muxly/common';
import type { DeliveryReport } from '@muxly/schemas';
import { Counter, type Registry } from 'prom-client';

/** A record carries a JSON array of reports up to about this size (per-record overhead is the cost). */
const RECORD_BYTES = 256 * 1024;

/** What a destination did with one event, as the live tap shows it. */
export type LiveReport = Omit<DeliveryReport, 'at' | 'replayId' | 'deadLetterId'>;

export interface LiveReportSink {
  add(reports: readonly LiveReport[]): void;
}

export interface LiveReportsOptions {
  producer: KafkaProducer;
  topic: string;
  /** Reports are sent at most this often, in one request. */
  flushIntervalMs: number;
  /** Reports held at most; more are dropped (and counted) until a flush made room. */
  maxBuffered: number;
  registry: Registry;
  logger: Logger;
}

/**
 * The router's report of every delivery outcome (delivered, retrying, dead-lettered, skipped) on
 * `muxly.deliveries`, for the live tap, as JSON arrays of reports (up to 256 KB per record). Unlike a replay's reports these are information only and
 * are NOT part of delivery: add() only appends to a bounded buffer (no await, no I/O on the
 * delivery path); a timer sends the buffer as one batch through the service's own producer (so a
 * slow report never queues ahead of a dead letter), and a failed or overflowing batch is dropped,
 * counted in `muxly_router_live_reports_dropped_total` and logged at most once a minute.
 */
export class LiveReports implements LiveReportSink {
  readonly #options: LiveReportsOptions;
  readonly #dropped: Counter;
  #buffer: LiveReport[] = [];
  /** When the buffered reports were made (to the flush interval: enough for a person watching). */
  #bufferedAt = '';
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> = Promise.resolve();
  #inFlight = false;
  #lastWarningAt = 0;
  #closed = false;

  constructor(options: LiveReportsOptions) {
    this.#options = options;
    this.#dropped = new Counter({
      name: 'muxly_router_live_reports_dropped_total',
      help: 'Live delivery reports (for the tap) not published: buffer full or the send failed. Delivery is not affected.',
      registers: [options.registry],
    });
  }

  add(reports: readonly LiveReport[]): void {
    if (this.#closed || reports.length === 0) return;
    const room = this.#options.maxBuffered - this.#buffer.length;
    if (room < reports.length) this.#drop(reports.length - Math.max(room, 0), 'the report buffer is full');
    if (this.#buffer.length === 0) this.#bufferedAt = new Date().toISOString();
    // NOTE (cost): only a reference is kept here; serializing waits for the flush, off the delivery's path.
    for (let index = 0; index < Math.min(room, reports.length); index += 1) this.#buffer.push(reports[index]!);
    this.#timer ??= setTimeout(() => this.#flush(), this.#options.flushIntervalMs);
  }

  /** Sends what is buffered and stops taking reports. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#sending;
    this.#flush();
    await this.#sending;
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#buffer.length === 0) return;
    // NOTE: one send in flight at a time; reports that arrive meanwhile wait in the (bounded)
    // buffer and go with the next send, so a slow broker costs reports, never memory.
    if (this.#inFlight) {
      this.#timer = setTimeout(() => this.#flush(), this.#options.flushIntervalMs);
      return;
    }
    const batch = this.#buffer;
    this.#buffer = [];
    const at = this.#bufferedAt;
    this.#inFlight = true;
    this.#sending = this.#send(batch, at).finally(() => {
      this.#inFlight = false;
    });
  }

  /**
   * NOTE: the broker limits one produce request's batch per partition (1 MB by default), so the
   * reports go as records of at most RECORD_BYTES, one send each, one after the other.
   */
  async #send(batch: LiveReport[], at: string): Promise<void> {
    let values: string[] = [];
    let bytes = 0;
    let count = 0;
    const sendValues = async () => {
      const reports = count;
      const value = `[${values.join(',')}]`;
      values = [];
      bytes = 0;
      count = 0;
      await this.#options.producer
        .send([{ topic: this.#options.topic, value }])
        .catch((error: unknown) => this.#drop(reports, errorMessage(error)));
    };
    for (const report of batch) {
      const value = JSON.stringify({ ...report, at });
      if (bytes + value.length > RECORD_BYTES && count > 0) await sendValues();
      values.push(value);
      bytes += value.length + 1;
      count += 1;
    }
    if (count > 0) await sendValues();
  }

  #drop(count: number, reason: string): void {
    this.#dropped.inc(count);
    if (Date.now() - this.#lastWarningAt < 60_000) return;
    this.#lastWarningAt = Date.now();
    this.#options.logger.warn('live delivery reports dropped (the tap misses them; delivery is not affected)', {
      count,
      reason,
    });
  }
}
