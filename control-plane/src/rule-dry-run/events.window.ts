import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

// Reads a window of `muxly.events` (the last N events, or a time range) with a throw-away
// consumer group that commits nothing, so the read never moves any destination's position.

export type EventsWindow = { lastEvents: number } | { from: Date; to?: Date | undefined };

export interface WindowRecord {
  partition: number;
  message: KafkaMessage;
}

interface Range {
  partition: number;
  start: bigint;
  end: bigint;
}

async function rangesOf(kafka: Kafka, topic: string, window: EventsWindow): Promise<Range[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const highOf = new Map(ends.map((end) => [end.partition, BigInt(end.high)]));
    const positionAt = async (at: Date) =>
      new Map(
        (await admin.fetchTopicOffsetsByTimestamp(topic, at.getTime())).map((one) => [
          one.partition,
          // NOTE: -1 means no event at or after the time in that partition: its end.
          BigInt(one.offset) < 0n ? highOf.get(one.partition)! : BigInt(one.offset),
        ]),
      );
    if ('lastEvents' in window) {
      return ends.map((end) => {
        const high = BigInt(end.high);
        const low = BigInt(end.low);
        const start = high - BigInt(window.lastEvents);
        return { partition: end.partition, start: start > low ? start : low, end: high };
      });
    }
    const starts = await positionAt(window.from);
    const stops = window.to ? await positionAt(window.to) : highOf;
    return ends.map((end) => ({
      partition: end.partition,
      start: starts.get(end.partition) ?? BigInt(end.high),
      end: stops.get(end.partition) ?? BigInt(end.high),
    }));
  } finally {
    await admin.disconnect();
  }
}

/**
 * The records of the window in time order (the last N across partitions for `lastEvents`).
 * NOTE: the group commits nothing and is deleted afterwards; a read that outlives `timeoutMs`
 * fails instead of holding the request.
 */
export async function readWindow(
  kafka: Kafka,
  topic: string,
  window: EventsWindow,
  options: { groupPrefix: string; timeoutMs: number },
): Promise<WindowRecord[]> {
  const ranges = (await rangesOf(kafka, topic, window)).filter((range) => range.end > range.start);
  if (ranges.length === 0) return [];
  const groupId = `${options.groupPrefix}${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxBytes: 16 * 1024 * 1024 });
  const records: WindowRecord[] = [];
  const pending = new Map(ranges.map((range) => [range.partition, range]));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading the window took longer than ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const range = pending.get(batch.partition);
            if (!range) return;
            for (const message of batch.messages) {
              const offset = BigInt(message.offset);
              if (offset < range.start) continue;
              if (offset >= range.end) break;
              records.push({ partition: batch.partition, message });
            }
            const last = batch.messages.at(-1);
            if (last && BigInt(last.offset) + 1n >= range.end) pending.delete(batch.partition);
            if (pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .then(() => {
          for (const range of ranges) consumer.seek({ topic, partition: range.partition, offset: String(range.start) });
        }, reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => admin.disconnect().catch(() => undefined));
  }
  records.sort((a, b) => Number(a.message.timestamp) - Number(b.message.timestamp));
  return 'lastEvents' in window ? records.slice(-window.lastEvents) : records;
}
