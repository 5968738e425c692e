import { errorMessage, type KafkaProducer, type Logger } from '@muxly/common';
import type { DeliveryReport } from '@muxly/schemas';
import { Counter, type Registry } from 'prom-client';

/**
 * A record carries a JSON array of reports up to about this size. NOTE (cost): below V8's large
 * object size (128 KB), so a record's string is made in the young generation and dies there: at
 * 256 KB every record's strings went to the old generation, and at ten destinations (twenty
 * thousand reports a second) that made the router collect its old generation several times a
 * second (72 full collections in a 30 s run instead of 29).
 */
const RECORD_BYTES = 64 * 1024;
/** One send carries records up to about this size (the broker takes 1 MB per partition and request). */
const REQUEST_BYTES = 256 * 1024;

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

/** Cached pieces at most (destination and rule ids come from the settings; a reload may change them). */
const MAX_PIECES = 4_096;

/**
 * The JSON of a report with its time, as `JSON.stringify({ ...report, at })` writes it (the keys in
 * the order Delivery makes them, absent ones left out), built from pieces kept per destination,
 * outcome and rule. NOTE (cost): the router reports every event once per destination, so with ten
 * destinations building these strings was a good part of the router's CPU: the pieces leave only
 * the event id, an error and the attempt count to encode per report.
 */
export class ReportJson {
  readonly #heads = new Map<string, string>();
  readonly #rules = new Map<string, string>();

  of(report: LiveReport, atJson: string): string {
    const { destinationId, outcome, eventId, ruleId, error, attempts } = report;
    const headKey = `${outcome}\u0000${destinationId}`;
    let json = this.#heads.get(headKey);
    if (json === undefined) {
      json = `{"destinationId":${JSON.stringify(destinationId)},"outcome":${JSON.stringify(outcome)}`;
      remember(this.#heads, headKey, json);
    }
    if (eventId !== undefined) json += `,"eventId":${JSON.stringify(eventId)}`;
    if (ruleId !== undefined) {
      let rule = this.#rules.get(ruleId);
      if (rule === undefined) remember(this.#rules, ruleId, (rule = `,"ruleId":${JSON.stringify(ruleId)}`));
      json += rule;
    }
    if (error !== undefined) json += `,"error":${JSON.stringify(error)}`;
    if (attempts !== undefined) json += `,"attempts":${JSON.stringify(attempts)}`;
    return `${json},"at":${atJson}}`;
  }
}

function remember(pieces: Map<string, string>, key: string, piece: string): void {
  if (pieces.size >= MAX_PIECES) pieces.clear();
  pieces.set(key, piece);
}

/**
 * The router's report of every delivery outcome (delivered, retrying, dead-lettered, skipped) on
 * `muxly.deliveries`, for the live tap, as JSON arrays of reports (up to 64 KB per record). Unlike a replay's reports these are information only and
 * are NOT part of delivery: add() only appends to a bounded buffer (no await, no I/O on the
 * delivery path); a timer sends the buffer as one batch through the service's own producer (so a
 * slow report never queues ahead of a dead letter), and a failed or overflowing batch is dropped,
 * counted in `muxly_router_live_reports_dropped_total` and logged at most once a minute.
 */
export class LiveReports implements LiveReportSink {
  readonly #options: LiveReportsOptions;
  readonly #dropped: Counter;
  readonly #json = new ReportJson();
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
   * reports go as records of at most RECORD_BYTES, up to REQUEST_BYTES of them per send, one send
   * after the other.
   */
  async #send(batch: LiveReport[], at: string): Promise<void> {
    const { producer, topic } = this.#options;
    let records: { topic: string; value: string }[] = [];
    let requestReports = 0;
    let requestBytes = 0;
    let values: string[] = [];
    let recordBytes = 0;
    const sendRecords = async () => {
      const reports = requestReports;
      const sending = records;
      records = [];
      requestReports = 0;
      requestBytes = 0;
      await producer.send(sending).catch((error: unknown) => this.#drop(reports, errorMessage(error)));
    };
    const closeRecord = async () => {
      if (requestBytes + recordBytes > REQUEST_BYTES && records.length > 0) await sendRecords();
      records.push({ topic, value: `[${values.join(',')}]` });
      requestReports += values.length;
      requestBytes += recordBytes;
      values = [];
      recordBytes = 0;
    };
    const atJson = JSON.stringify(at);
    for (const report of batch) {
      const value = this.#json.of(report, atJson);
      if (recordBytes + value.length > RECORD_BYTES && values.length > 0) await closeRecord();
      values.push(value);
      recordBytes += value.length + 1;
    }
    if (values.length > 0) await closeRecord();
    if (records.length > 0) await sendRecords();
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
