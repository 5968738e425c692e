import type { MikroORM } from '@mikro-orm/postgresql';
import type { Kafka } from 'kafkajs';
import {
  BatchConsumer,
  errorMessage,
  type KafkaProducer,
  type Logger,
  type OutgoingRecord,
  type TopicNames,
} from '@muxly/common';
import { DLQ_HEADERS, REPLAY_HEADERS, type DeliveryReport } from '@muxly/schemas';
import { ApiProblem } from '../http/problem.ts';
import { newId } from '../resources/common.ts';
import {
  failReplay,
  getReplay,
  insertReplay,
  OUTCOMES,
  recordOutcomes,
  recordPublished,
  type ReplayRow,
} from './replay.store.ts';
import { resolveSelection, selectForReplay, type DeadLetterRow, type Selection } from './store.ts';
import { readWindow, type WindowRecord } from '../rule-dry-run/events.window.ts';

// A replay sends a selection of dead letters again, each to where it failed:
// - router dead letters go to `muxly.replay`, naming their destination: only that destination's
//   worker delivers them (a file that already has the event does not get it twice because a
//   webhook failed), with the current rules and transformations;
// - transformer dead letters are republished to `muxly.raw` with their original bytes (an item
//   of a batch is wrapped again in its envelope), so the fixed transformer normalizes them.
// Progress: published, then the router's delivery report for each record it was sent.

const PUBLISH_BATCH = 500;

export interface ReplayServiceOptions {
  orm: MikroORM;
  producer: KafkaProducer;
  /** Reads the events topic for backfills. */
  kafka?: Kafka;
  topics: Pick<TopicNames, 'raw' | 'replay' | 'events'>;
  maxRecords: number;
  logger: Logger;
}

/** A transformer dead letter as a raw record again, or the reason it cannot be one. */
function rawRecordOf(row: DeadLetterRow): { value: Buffer } | { reason: string } {
  const envelopeHeader = row.headers[DLQ_HEADERS.rawEnvelope];
  if (row.original_index !== null && row.original_index >= 0) {
    if (!envelopeHeader) return { reason: 'an item of a batch written without its envelope (an older transformer)' };
    try {
      const envelope = JSON.parse(envelopeHeader) as { payload?: Record<string, unknown> };
      const payload = { ...envelope.payload };
      const list = Object.keys(payload).find((key) => Array.isArray(payload[key]));
      if (!list) return { reason: 'the envelope names no list of items' };
      payload[list] = [JSON.parse(row.body.toString('utf8'))];
      return { value: Buffer.from(JSON.stringify({ ...envelope, payload })) };
    } catch (error) {
      return { reason: `the item or its envelope is not JSON: ${errorMessage(error)}` };
    }
  }
  try {
    const value = JSON.parse(row.body.toString('utf8')) as { envelopeVersion?: unknown };
    if (value?.envelopeVersion === undefined) return { reason: 'not a raw record (a normalized event)' };
  } catch {
    return { reason: 'not JSON: sending the same bytes again cannot succeed' };
  }
  return { value: row.body };
}

export class ReplayService {
  readonly #options: ReplayServiceOptions;
  readonly #running = new Set<Promise<void>>();

  constructor(options: ReplayServiceOptions) {
    this.#options = options;
  }

  /** Records the replay and starts publishing in the background; the answer carries its id and progress. */
  async start(selection: Selection, requestedBy: string): Promise<ReplayRow> {
    const em = this.#options.orm.em.fork();
    const rows = await selectForReplay(em, selection, this.#options.maxRecords);
    if (rows.length === 0)
      throw new ApiProblem(
        422,
        'empty-selection',
        'the selection matches no dead letter (open ones, unless ids are given)',
      );
    if (rows.length > this.#options.maxRecords)
      throw new ApiProblem(
        422,
        'selection-too-large',
        `the selection matches more than ${this.#options.maxRecords} dead letters; narrow it (time range, destination, error class)`,
      );
    const replay = await insertReplay(em, {
      id: newId('rpl'),
      kind: 'dead-letters',
      selection,
      requestedBy,
      total: rows.length,
    });
    const work = this.#publish(replay.id, rows, requestedBy)
      .catch(async (error: unknown) => {
        this.#options.logger.error('replay failed', { replayId: replay.id, error: errorMessage(error) });
        await failReplay(this.#options.orm.em.fork(), replay.id, `publishing failed: ${errorMessage(error)}`);
      })
      .catch(() => undefined);
    this.#running.add(work);
    void work.finally(() => this.#running.delete(work));
    return replay;
  }

  async #publish(replayId: string, rows: DeadLetterRow[], requestedBy: string): Promise<void> {
    const { producer, topics, logger, orm } = this.#options;
    const counts = { published: 0, expectedReports: 0, skipped: 0 };
    const skipped: { id: string; reason: string }[] = [];
    for (let start = 0; start < rows.length; start += PUBLISH_BATCH) {
      const batch = rows.slice(start, start + PUBLISH_BATCH);
      const records: OutgoingRecord[] = [];
      const sent: string[] = [];
      for (const row of batch) {
        if (row.stage === 'router' && row.destination_id) {
          records.push({
            topic: topics.replay,
            key: row.record_key,
            value: row.body,
            headers: {
              [DLQ_HEADERS.originalTopic]: row.original_topic ?? '',
              [DLQ_HEADERS.originalPartition]: String(row.original_partition ?? ''),
              [DLQ_HEADERS.originalOffset]: row.original_offset ?? '',
              [REPLAY_HEADERS.destinationId]: row.destination_id,
              [REPLAY_HEADERS.replayId]: replayId,
              [REPLAY_HEADERS.deadLetterId]: row.id,
            },
          });
          counts.expectedReports += 1;
          sent.push(row.id);
        } else if (row.stage === 'transformer') {
          const raw = rawRecordOf(row);
          if ('reason' in raw) {
            skipped.push({ id: row.id, reason: raw.reason });
            continue;
          }
          records.push({
            topic: topics.raw,
            key: row.record_key,
            value: raw.value,
            headers: { [REPLAY_HEADERS.replayId]: replayId, [REPLAY_HEADERS.deadLetterId]: row.id },
          });
          sent.push(row.id);
        } else {
          skipped.push({ id: row.id, reason: `stage "${row.stage}" cannot be replayed` });
        }
      }
      // NOTE: published first, then marked replayed: a crash between the two leaves them open
      // (a second replay may send them again; destinations that upsert by event id keep one row).
      if (records.length > 0) await producer.send(records);
      await resolveSelection(orm.em.fork(), { ids: sent }, requestedBy, 'replayed', replayId);
      counts.published += sent.length;
      counts.skipped = skipped.length;
      await recordPublished(orm.em.fork(), replayId, counts);
    }
    if (skipped.length > 0)
      logger.warn('dead letters not replayable; left open', { replayId, count: skipped.length, first: skipped[0] });
    logger.info('replay published', { replayId, ...counts });
  }

  /**
   * A backfill: the events of `muxly.events` written in [from, to) sent again to ONE destination
   * (through `muxly.replay`, like a dead letter's replay, so no other destination sees them), a
   * job with the same progress as a replay. The destination's own position does not move.
   */
  async startBackfill(
    destinationId: string,
    window: { from: Date; to?: Date | undefined },
    requestedBy: string,
  ): Promise<ReplayRow> {
    const { kafka, topics } = this.#options;
    if (!kafka) throw new ApiProblem(503, 'kafka-unavailable', 'backfills are not available on this instance');
    const records = await readWindow(kafka, topics.events, window, {
      groupPrefix: `${topics.events}.backfill.`,
      timeoutMs: 60_000,
    }).catch((error: unknown) => {
      throw new ApiProblem(503, 'kafka-unavailable', `the events could not be read: ${errorMessage(error)}`);
    });
    if (records.length === 0)
      throw new ApiProblem(422, 'empty-selection', 'no event of the events topic was written in that time range');
    if (records.length > this.#options.maxRecords)
      throw new ApiProblem(
        422,
        'selection-too-large',
        `the time range holds more than ${this.#options.maxRecords} events; backfill it in smaller ranges`,
      );
    const replay = await insertReplay(this.#options.orm.em.fork(), {
      id: newId('rpl'),
      kind: 'backfill',
      selection: {
        destinationId,
        from: window.from.toISOString(),
        ...(window.to ? { to: window.to.toISOString() } : {}),
      },
      requestedBy,
      total: records.length,
    });
    const work = this.#publishBackfill(replay.id, destinationId, records)
      .catch(async (error: unknown) => {
        this.#options.logger.error('backfill failed', { replayId: replay.id, error: errorMessage(error) });
        await failReplay(this.#options.orm.em.fork(), replay.id, `publishing failed: ${errorMessage(error)}`);
      })
      .catch(() => undefined);
    this.#running.add(work);
    void work.finally(() => this.#running.delete(work));
    return replay;
  }

  async #publishBackfill(replayId: string, destinationId: string, records: WindowRecord[]): Promise<void> {
    const { producer, topics, orm, logger } = this.#options;
    let published = 0;
    for (let start = 0; start < records.length; start += PUBLISH_BATCH) {
      const batch = records.slice(start, start + PUBLISH_BATCH);
      await producer.send(
        batch.map(({ partition, message }) => ({
          topic: topics.replay,
          key: message.key,
          value: message.value ?? Buffer.alloc(0),
          headers: {
            [DLQ_HEADERS.originalTopic]: topics.events,
            [DLQ_HEADERS.originalPartition]: String(partition),
            [DLQ_HEADERS.originalOffset]: message.offset,
            [REPLAY_HEADERS.destinationId]: destinationId,
            [REPLAY_HEADERS.replayId]: replayId,
            // The progress counts one outcome per record: its place in the events topic names it.
            [REPLAY_HEADERS.deadLetterId]: `${partition}:${message.offset}`,
          },
        })),
      );
      published += batch.length;
      await recordPublished(orm.em.fork(), replayId, { published, expectedReports: published, skipped: 0 });
    }
    logger.info('backfill published', { replayId, destinationId, published });
  }

  /** Waits for replays still publishing (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.#running]);
  }

  get(id: string): Promise<ReplayRow | null> {
    return getReplay(this.#options.orm.em.fork(), id);
  }
}

/**
 * Applies the router's delivery reports of replayed records to their replays' progress. All
 * instances share one group; applying a report twice is harmless (one outcome per dead letter).
 */
export async function startReplayReports(options: {
  kafka: Kafka;
  orm: MikroORM;
  topic: string;
  groupId: string;
  logger: Logger;
}): Promise<BatchConsumer> {
  const consumer = new BatchConsumer(options.kafka, {
    groupId: options.groupId,
    topics: [options.topic],
    fromBeginning: true,
    chunkSize: 500,
    logger: options.logger,
  });
  await consumer.start(async (messages) => {
    const reports: { replayId: string; deadLetterId: string; outcome: (typeof OUTCOMES)[number] }[] = [];
    for (const message of messages) {
      // Most reports are the router's live ones (for the tap): skip them without parsing.
      if (!message.value?.includes('"replayId"')) continue;
      let report: DeliveryReport;
      try {
        report = JSON.parse(message.value?.toString('utf8') ?? '') as DeliveryReport;
      } catch {
        continue;
      }
      const outcome = OUTCOMES.find((one) => one === report.outcome);
      if (report.replayId && report.deadLetterId && outcome)
        reports.push({ replayId: report.replayId, deadLetterId: report.deadLetterId, outcome });
    }
    await recordOutcomes(options.orm.em.fork(), reports);
  });
  return consumer;
}
