import { randomUUID } from 'node:crypto';
import { createKafka, createLogger, ensureTopics, KafkaProducer, topicNames, topicSpecs } from '@muxly/common';
import { deleteTopicsWithPrefix } from '../test/support/kafka.ts';
import { freePort, ServiceProcess } from '../test/support/services.ts';
import { cpuProfileEnv, cpuSeconds, metric300, peakRssMb, sleep, writeSettings } from './lib.ts';

export const quietLogger = createLogger({ service: 'bench', level: 'error', silent: true });

/** The pipeline's topics under `prefix`, 3 partitions each. */
export async function createBenchTopics(kafka: ReturnType<typeof createKafka>, prefix: string): Promise<void> {
  // NOTE: right after another topic's deletion the broker may briefly answer metadata requests
  // with UNKNOWN_TOPIC_OR_PARTITION; retry instead of failing the whole run.
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureTopics(kafka, topicSpecs(topicNames(prefix), { partitions: 3, replicationFactor: 1 }));
      break;
    } catch (error) {
      if (attempt >= 5) throw error;
      await sleep(1_000);
    }
  }
}

export interface TransformerFigures {
  shape: string;
  events: number;
  eventsPerSecond: number;
  /** CPU time the transformer instances used per event while draining, in microseconds. */
  cpuMicrosPerEvent: number;
  instances: number;
  peakRssMb: number;
}

/**
 * The transformer alone: a raw topic is filled first (`records` envelopes of `perRecord` metrics),
 * then a transformer process starts and drains it; the rate is measured from its first committed
 * events to its last, from its own counter (transactions commit, so the counter counts committed work).
 */
export async function benchTransformer(
  base: Record<string, unknown>,
  records: number,
  perRecord: number,
  instances = 1,
): Promise<TransformerFigures> {
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const kafka = createKafka(
    {
      brokers: ['127.0.0.1:9092'],
      clientId: 'bench-filler',
      ssl: false,
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 30_000,
    },
    quietLogger,
  );
  const topics = topicNames(prefix);
  await createBenchTopics(kafka, prefix);
  // NOTE: the wrapper takes a new producer id after a failed send (a busy broker once answered
  // OUT_OF_ORDER_SEQUENCE_NUMBER to kafkajs's own retry and crashed the run); a send that failed is
  // sent again, and a copy it may have left is dropped by the transformer's dedup window (same ids).
  const producer = new KafkaProducer(kafka);
  await producer.connect();
  const receivedAt = new Date().toISOString();
  for (let sent = 0; sent < records;) {
    const batch = [];
    for (let index = 0; index < 100 && sent < records; index++, sent++) {
      const metrics = Array.from({ length: perRecord }, (_, item) => ({
        ...metric300(item),
        id: randomUUID(),
        timestamp: receivedAt,
      }));
      batch.push({
        topic: topics.raw,
        value: JSON.stringify({
          envelopeVersion: 1,
          format: 'api.metrics.v1',
          source: { type: 'api', id: 'bench' },
          receivedAt,
          payload: { metrics },
        }),
      });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send(batch);
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        await sleep(500);
      }
    }
  }
  await producer.disconnect();

  const services: ServiceProcess[] = [];
  const ports: number[] = [];
  for (let index = 0; index < instances; index++) {
    const port = await freePort();
    ports.push(port);
    const file = writeSettings(`transformer-${prefix}${index}`, {
      ...base,
      topics: { prefix, partitions: 3 },
      transformer: {
        health: { port },
        groupId: `${prefix}transformer`,
        instanceId: `bench-${index}`,
        ...JSON.parse(process.env.BENCH_T ?? '{}'),
      },
    });
    services.push(new ServiceProcess('transformer', { MUXLY_CONFIG: file, ...cpuProfileEnv() }).start());
  }
  const total = records * perRecord;
  // The rate comes from the events themselves: each carries the time the transformer produced it
  // (CreateTime), so the first to the last event is the transformer's working time, start-up
  // excluded. NOTE: the events are read only after the drain (the transformer's committed offsets
  // reached the raw topic's end), so the reader does not take CPU from the transformer on a
  // two-core machine.
  const admin = kafka.admin();
  await admin.connect();
  const consumer = kafka.consumer({ groupId: `${prefix}bench-reader`, readUncommitted: false });
  try {
    for (const [index, one] of services.entries()) await one.waitUntilReady(`http://127.0.0.1:${ports[index]}/readyz`);
    const cpuAtStart = services.map((one) => cpuSeconds(one.child!.pid!));
    const rawEnd = await admin.fetchTopicOffsets(topics.raw);
    const target = rawEnd.reduce((sum, partition) => sum + Number(partition.offset), 0);
    const deadline = Date.now() + 180_000;
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId: `${prefix}transformer`, topics: [topics.raw] });
      const done = (committed?.partitions ?? []).reduce(
        (sum, partition) => sum + Math.max(0, Number(partition.offset)),
        0,
      );
      if (done >= target) break;
      if (Date.now() > deadline) throw new Error(`the transformer drained ${done} of ${target} raw records in 180 s`);
      await sleep(250);
    }
    const cpu = services.reduce((sum, one, index) => sum + cpuSeconds(one.child!.pid!) - cpuAtStart[index]!, 0);
    const peak = Math.max(...services.map((one) => peakRssMb(one.child!.pid!)));
    let count = 0;
    let firstAt = Number.POSITIVE_INFINITY;
    let lastAt = 0;
    await consumer.connect();
    await consumer.subscribe({ topic: topics.events, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const at = Number(message.timestamp);
          if (at < firstAt) firstAt = at;
          if (at > lastAt) lastAt = at;
        }
        count += batch.messages.length;
      },
    });
    const readDeadline = Date.now() + 120_000;
    while (count < total && Date.now() < readDeadline) await sleep(200);
    const seconds = (lastAt - firstAt) / 1000;
    return {
      shape: `${records.toLocaleString('en')} raw records x ${perRecord} metrics`,
      events: count,
      eventsPerSecond: Math.round(count / seconds),
      cpuMicrosPerEvent: Math.round((cpu * 1e6) / total),
      instances,
      peakRssMb: peak,
    };
  } finally {
    await consumer.disconnect();
    await admin.disconnect();
    for (const one of services) await one.stop();
    await deleteTopics(prefix);
  }
}

export const deleteTopics = (prefix: string): Promise<void> => deleteTopicsWithPrefix(['127.0.0.1:9092'], prefix);
