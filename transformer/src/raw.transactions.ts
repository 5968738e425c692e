import type { KafkaMessage } from 'kafkajs';
import {
  groupByTopic,
  type BatchContext,
  type ChunkHandler,
  type KafkaProducer,
  type Logger,
  type OutgoingRecord,
} from '@muxly/common';
import type { DedupWindow } from './dedup.ts';
import { processRawChunk, type ProcessedChunk } from './raw.processor.ts';

/**
 * NOTE: a topic's max.message.bytes (1 MB by default for `muxly.events`) bounds each partition's
 * record batch of a produce request; a larger one is refused (MESSAGE_TOO_LARGE), the transaction
 * aborts and the same chunk fails again forever. Every produce request stays under this.
 */
export const MAX_SEND_BYTES = 900_000;

export interface RawTransactionsOptions {
  producer: KafkaProducer;
  groupId: string;
  eventsTopic: string;
  dlqTopic: string;
  schemaId: number;
  dedup: DedupWindow;
  /** Output bytes after which the transaction in progress is committed and a new one begun. */
  maxTransactionBytes: number;
  metrics: {
    events: { inc(n: number): void };
    deadLetters: { inc(n: number): void };
    duplicates: { inc(n: number): void };
    aborted: { inc(): void };
  };
  logger: Logger;
}

const bytesOf = (data: string | Buffer | null | undefined) =>
  data === null || data === undefined ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.length;

/**
 * An upper bound of a record's size inside a Kafka record batch: value, key and headers, plus the
 * record's own framing (length, attributes, timestamp and offset deltas, key and value lengths,
 * header count: at most 40 bytes of varints) and each header's two lengths.
 * NOTE: the key and the headers count. Events of one series share a key, hence a partition, so a
 * piece can be one partition's batch; with ~150 bytes of key and id header per event, counting
 * the value alone let a 900 KB piece reach 1.1 MB and the broker refused it (MESSAGE_TOO_LARGE)
 * on every retry of the chunk.
 */
export function recordBytes(record: OutgoingRecord): number {
  let bytes = bytesOf(record.value) + bytesOf(record.key) + 40;
  for (const [name, value] of Object.entries(record.headers ?? {}))
    bytes += Buffer.byteLength(name) + bytesOf(value) + 10;
  return bytes;
}

/**
 * The transformer's chunk handler: events, dead letters and the consumed offsets of a run of raw
 * records commit in one transaction. A chunk whose output is large (raw records carry up to 1,000
 * metrics each) is cut into several transactions, each ending at a raw record's boundary with its
 * offset, so a transaction stays bounded in memory and in broker work.
 */
export function rawTransactionsHandler(options: RawTransactionsOptions): ChunkHandler {
  return async (messages, context) => {
    let committed = 0;
    let pending: ProcessedChunk = emptyChunk();
    let pendingBytes = 0;
    for (let index = 0; index < messages.length; index++) {
      const processed = processRawChunk([messages[index]!], context, {
        eventsTopic: options.eventsTopic,
        dlqTopic: options.dlqTopic,
        schemaId: options.schemaId,
        dedup: options.dedup,
      });
      pending = merge(pending, processed);
      pendingBytes += processed.records.reduce((sum, record) => sum + recordBytes(record), 0);
      const last = index === messages.length - 1;
      if (pendingBytes >= options.maxTransactionBytes || last) {
        await commitTransaction(options, pending, messages[index]!, context);
        committed = index + 1;
        pending = emptyChunk();
        pendingBytes = 0;
        // A revoked partition or a stopping consumer: stop at this committed boundary.
        if (!last && !context.shouldContinue()) return committed;
        await context.heartbeat();
      }
    }
    return committed;
  };
}

async function commitTransaction(
  options: RawTransactionsOptions,
  processed: ProcessedChunk,
  last: KafkaMessage,
  context: BatchContext,
): Promise<void> {
  const transaction = await options.producer.transaction();
  try {
    for (const piece of piecesOf(processed.records, MAX_SEND_BYTES)) {
      for (const topicMessages of groupByTopic(piece)) await transaction.send({ ...topicMessages, acks: -1 });
    }
    await transaction.sendOffsets({
      consumerGroupId: options.groupId,
      topics: [
        {
          topic: context.topic,
          partitions: [{ partition: context.partition, offset: (BigInt(last.offset) + 1n).toString() }],
        },
      ],
    });
    await transaction.commit();
  } catch (error) {
    options.metrics.aborted.inc();
    // The ids of an aborted transaction were never published: their retry is not a duplicate.
    options.dedup.remove(processed.eventIds);
    await transaction
      .abort()
      .catch((abortError: unknown) =>
        options.logger.warn('transaction abort failed', { error: (abortError as Error).message }),
      );
    throw error;
  }
  options.metrics.events.inc(processed.counts.events);
  options.metrics.deadLetters.inc(processed.counts.deadLetters);
  options.metrics.duplicates.inc(processed.counts.duplicates);
}

/** Consecutive runs of records of at most `maxBytes` each (a larger record goes alone). */
export function piecesOf(records: OutgoingRecord[], maxBytes: number): OutgoingRecord[][] {
  const pieces: OutgoingRecord[][] = [];
  let piece: OutgoingRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = recordBytes(record);
    if (piece.length > 0 && bytes + size > maxBytes) {
      pieces.push(piece);
      piece = [];
      bytes = 0;
    }
    piece.push(record);
    bytes += size;
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

const emptyChunk = (): ProcessedChunk => ({
  records: [],
  eventIds: [],
  counts: { events: 0, deadLetters: 0, duplicates: 0 },
});

function merge(into: ProcessedChunk, more: ProcessedChunk): ProcessedChunk {
  into.records.push(...more.records);
  into.eventIds.push(...more.eventIds);
  into.counts.events += more.counts.events;
  into.counts.deadLetters += more.counts.deadLetters;
  into.counts.duplicates += more.counts.duplicates;
  return into;
}
