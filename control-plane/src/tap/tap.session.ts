import { randomBytes } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { decodeWireFormat, errorMessage, type Logger, type TopicNames } from '@muxly/common';
import type { DeliveryReport } from '@muxly/schemas';
import { eventMatches, rawItemsMatching, type TapFilter } from './tap.filter.ts';

// One live tap: a throw-away consumer of the raw, events and deliveries topics that forwards
// what the filter selects. It commits nothing (autoCommit off) and its group is deleted when the
// tap ends, so no pipeline consumer's position or membership is touched.

export type TapStage = 'ready' | 'raw' | 'event' | 'delivery' | 'dropped' | 'error';

export interface TapSessionOptions {
  kafka: Kafka;
  topics: Pick<TopicNames, 'raw' | 'events' | 'deliveries'>;
  /** The tap's consumer group is this plus a random suffix. */
  groupPrefix: string;
  filter: TapFilter;
  maxEventsPerSecond: number;
  emit(stage: TapStage, data: unknown): void;
  logger: Logger;
}

/** Event ids followed at most (the oldest are forgotten first). */
const MAX_FOLLOWED = 10_000;
/** Reports of events not seen (yet) kept at most: a report may be read before its event. */
const MAX_EARLY_REPORTS = 5_000;
/** Raw items shown per raw record at most (an ingest request may carry thousands). */
const MAX_RAW_ITEMS = 20;

export class TapSession {
  readonly #options: TapSessionOptions;
  readonly #groupId: string;
  readonly #followed = new Map<string, true>();
  readonly #earlyReports = new Map<string, DeliveryReport[]>();
  #consumer: Consumer | undefined;
  #tokens: number;
  #refilledAt = Date.now();
  #dropped = 0;
  #droppedTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: TapSessionOptions) {
    this.#options = options;
    this.#tokens = options.maxEventsPerSecond;
    this.#groupId = `${options.groupPrefix}${randomBytes(6).toString('hex')}`;
  }

  /** Resolves once the tap reads from the latest offsets (anything written after it is seen). */
  async start(): Promise<void> {
    const { kafka, topics } = this.#options;
    const topicList = [topics.raw, topics.events, topics.deliveries];
    // NOTE: a new group would start at "latest" only when it first fetches, after the group join;
    // records written in between would be missed. The ends read here, sought to after the join,
    // make "ready" mean: every record written from now on is seen.
    const admin = kafka.admin();
    await admin.connect();
    let ends: { topic: string; partition: number; offset: string }[];
    try {
      ends = (
        await Promise.all(
          topicList.map(async (topic) =>
            (await admin.fetchTopicOffsets(topic)).map((end) => ({
              topic,
              partition: end.partition,
              offset: end.high,
            })),
          ),
        )
      ).flat();
    } finally {
      await admin.disconnect();
    }
    const consumer = kafka.consumer({
      groupId: this.#groupId,
      allowAutoTopicCreation: false,
      // A tap is for people watching: fetches return within 100 ms rather than kafkajs's 5 s.
      maxWaitTimeInMs: 100,
      maxBytes: 4 * 1024 * 1024,
    });
    this.#consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart)
        this.#options.emit('error', { detail: `the tap stopped reading: ${payload.error.message}` });
    });
    await consumer.connect();
    await consumer.subscribe({ topics: topicList, fromBeginning: false });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => this.#handle(payload) });
    for (const end of ends) consumer.seek(end);
    this.#droppedTimer = setInterval(() => this.#reportDropped(), 1_000);
    this.#droppedTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#droppedTimer);
    await this.#consumer?.disconnect().catch(() => undefined);
    const admin = this.#options.kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([this.#groupId]))
      .catch((error: unknown) =>
        this.#options.logger.warn('tap group not deleted', { groupId: this.#groupId, error: errorMessage(error) }),
      )
      .finally(() => admin.disconnect().catch(() => undefined));
  }

  async #handle({ batch }: EachBatchPayload): Promise<void> {
    const { topics } = this.#options;
    for (const message of batch.messages) {
      if (this.#stopped || !message.value) return;
      try {
        if (batch.topic === topics.deliveries) this.#onReports(JSON.parse(message.value.toString('utf8')));
        else if (batch.topic === topics.events)
          this.#onEvent(decodeWireFormat(message.value).value, batch.partition, message.offset);
        else if (batch.topic === topics.raw)
          this.#onRaw(JSON.parse(message.value.toString('utf8')), batch.partition, message.offset);
      } catch {
        // Not a record this tap can read (the pipeline dead-letters those); nothing to show.
      }
    }
    await Promise.resolve();
  }

  #onRaw(envelope: Record<string, unknown>, partition: number, offset: string): void {
    const items = rawItemsMatching(this.#options.filter, envelope);
    if (items.length === 0) return;
    this.#send('raw', {
      topic: this.#options.topics.raw,
      partition,
      offset,
      format: envelope.format,
      source: envelope.source,
      receivedAt: envelope.receivedAt,
      ...(envelope.connectorId ? { connectorId: envelope.connectorId } : {}),
      matchingItems: items.length,
      items: items.slice(0, MAX_RAW_ITEMS),
    });
  }

  #onEvent(value: unknown, partition: number, offset: string): void {
    if (typeof value !== 'object' || value === null) return;
    const event = value as Record<string, unknown>;
    if (!eventMatches(this.#options.filter, event)) return;
    const id = typeof event.id === 'string' ? event.id : undefined;
    if (id !== undefined) {
      this.#followed.set(id, true);
      if (this.#followed.size > MAX_FOLLOWED) this.#followed.delete(this.#followed.keys().next().value!);
    }
    this.#send('event', { topic: this.#options.topics.events, partition, offset, event });
    if (id === undefined) return;
    const early = this.#earlyReports.get(id);
    if (early) {
      this.#earlyReports.delete(id);
      for (const report of early) this.#send('delivery', report);
    }
  }

  /** The router's live reports come as arrays; a replay's one by one. */
  #onReports(value: DeliveryReport | DeliveryReport[]): void {
    for (const report of Array.isArray(value) ? value : [value])
      if (typeof report === 'object' && report !== null) this.#onReport(report);
  }

  #onReport(report: DeliveryReport): void {
    if (typeof report.eventId !== 'string' || typeof report.destinationId !== 'string') return;
    if (this.#followed.has(report.eventId)) return this.#send('delivery', report);
    // The report may have been read before its event (another topic, another fetch).
    const early = this.#earlyReports.get(report.eventId);
    if (early) early.push(report);
    else this.#earlyReports.set(report.eventId, [report]);
    if (this.#earlyReports.size > MAX_EARLY_REPORTS) this.#earlyReports.delete(this.#earlyReports.keys().next().value!);
  }

  /** Token bucket: at most maxEventsPerSecond sent, the rest counted and announced once a second. */
  #send(stage: TapStage, data: unknown): void {
    const now = Date.now();
    const rate = this.#options.maxEventsPerSecond;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilledAt) / 1_000) * rate);
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.#dropped += 1;
      return;
    }
    this.#tokens -= 1;
    this.#options.emit(stage, data);
  }

  #reportDropped(): void {
    if (this.#dropped === 0) return;
    const count = this.#dropped;
    this.#dropped = 0;
    this.#options.emit('dropped', {
      count,
      reason: `more than ${this.#options.maxEventsPerSecond} tap events per second (narrow the filter)`,
    });
  }
}
