// `npm run bench -- clients`: kafkajs against @platformatic/kafka on the same broker, in the same
// run, alternating (A, B, A, B, ...) so that a burst of load from elsewhere on the machine slows
// both alike; the best round of each counts (noise only ever slows a round down).
//   (a) idempotent produce (acks=all) of keyed 500-byte records to a 3-partition topic;
//   (b) the transformer's loop shape: consume (read_committed), write one record per consumed
//       record and commit the consumed offsets in the same transaction, one transaction for
//       everything consumed during a commit interval or up to a size, the next one filling while
//       the previous commits.
// Both clients run the same code shape below; only the calls into the library differ.
// A third line runs the same records through common's TransactionalStream (kafkajs), the
// transformer's own loop, to show the hand-written loop is not unfair to kafkajs.
//   CLIENTS_RECORDS (default 60,000) records per round, CLIENTS_ROUNDS (default 3) rounds each.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  Consumer as PlatformaticConsumer,
  FetchIsolationLevels,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer as PlatformaticProducer,
  type Message as PlatformaticMessage,
} from '@platformatic/kafka';
import { Partitioners, type Kafka, type KafkaMessage } from 'kafkajs';
import { createKafka, TransactionalStream, type TransactionalOutput } from '@muxly/common';
import { sleep } from './lib.ts';
import { deleteTopics, quietLogger } from './transformer.bench.ts';

const BROKER = '127.0.0.1:9092';
const RECORD_BYTES = 500;
/** Records per produce request in (a); ~500 KB, well under the 1 MB a partition batch may hold. */
const SEND_CHUNK = 1_000;
/** The transformer's defaults: commit interval and transaction size. */
const COMMIT_INTERVAL_MS = 100;
const MAX_TRANSACTION_BYTES = 4_000_000;
/** One produce request of the loop carries at most this many bytes (the wrapper's MAX_SEND_BYTES). */
const MAX_SEND_BYTES = 900_000;

type ClientName = 'kafkajs' | 'platformatic';

export interface ClientFigures {
  produce: Record<ClientName, number[]>;
  transactional: Record<ClientName, number[]>;
  /** kafkajs through common's TransactionalStream (what the transformer runs), same records. */
  wrapper: number[];
}

interface Plain {
  key: Buffer;
  value: Buffer;
}

function recordsToSend(count: number): Plain[] {
  const value = randomBytes(RECORD_BYTES);
  return Array.from({ length: count }, (_, index) => ({ key: Buffer.from(`series-${index % 1_000}`), value }));
}

// ---------------------------------------------------------------- (a) idempotent produce

async function produceKafkajs(kafka: Kafka, topic: string, records: Plain[], warmUp = true): Promise<number> {
  // The wrapper's producer settings: idempotent, one request in flight (kafkajs keeps order only so).
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    if (warmUp) await producer.send({ topic, acks: -1, messages: records.slice(0, 10) }); // metadata, producer id
    const started = performance.now();
    for (let index = 0; index < records.length; index += SEND_CHUNK) {
      await producer.send({ topic, acks: -1, messages: records.slice(index, index + SEND_CHUNK) });
    }
    return records.length / ((performance.now() - started) / 1000);
  } finally {
    await producer.disconnect();
  }
}

async function producePlatformatic(topic: string, records: Plain[]): Promise<number> {
  const producer = new PlatformaticProducer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: [BROKER],
    idempotent: true,
    acks: ProduceAcks.ALL,
  });
  try {
    await producer.send({ messages: records.slice(0, 10).map((record) => ({ topic, ...record })) });
    const started = performance.now();
    for (let index = 0; index < records.length; index += SEND_CHUNK) {
      await producer.send({
        messages: records.slice(index, index + SEND_CHUNK).map((record) => ({ topic, ...record })),
      });
    }
    return records.length / ((performance.now() - started) / 1000);
  } finally {
    await producer.close();
  }
}

// ------------------------------------------------- (b) consume-transform-produce in transactions

/** What the loop needs from a client: a consumer feeding records, and transactions. */
interface LoopClient<M> {
  /** Starts consuming `topic` from its beginning into `onRecord`; `pause`/`resume` apply backpressure. */
  consume(onRecord: (record: M) => void): Promise<void>;
  pause(): void;
  resume(): void;
  /** One transaction: sends `pieces` one after another, adds the offsets of `lastPerPartition`, commits. */
  transaction(pieces: Plain[][], lastPerPartition: M[]): Promise<void>;
  close(): Promise<void>;
}

interface LoopRecord {
  partition: number;
  key: Buffer;
  value: Buffer;
}

/**
 * The transformer's loop shape, client-neutral: consumed records fill the open transaction; it is
 * sealed after COMMIT_INTERVAL_MS or MAX_TRANSACTION_BYTES and committed while the next one fills;
 * at most two transactions exist at once (consuming pauses while both are full).
 */
async function runLoop<M extends LoopRecord>(client: LoopClient<M>, total: number): Promise<number> {
  let filling: { outputs: Plain[]; bytes: number; last: Map<number, M> } = newFill();
  let committing: Promise<void> | undefined;
  let committed = 0;
  let firstAt = 0;
  /** When the last record committed (the clients' close is no part of the figure). */
  let doneAt = 0;
  let failure: Error | undefined;
  let timer: NodeJS.Timeout | undefined;
  function newFill() {
    return { outputs: [] as Plain[], bytes: 0, last: new Map<number, M>() };
  }
  const seal = () => {
    clearTimeout(timer);
    timer = undefined;
    if (committing || filling.outputs.length === 0) return;
    const sealed = filling;
    filling = newFill();
    const pieces: Plain[][] = [];
    let piece: Plain[] = [];
    let pieceBytes = 0;
    for (const output of sealed.outputs) {
      const size = output.key.length + output.value.length + 40;
      if (pieceBytes + size > MAX_SEND_BYTES && piece.length > 0) {
        pieces.push(piece);
        piece = [];
        pieceBytes = 0;
      }
      piece.push(output);
      pieceBytes += size;
    }
    pieces.push(piece);
    committing = client.transaction(pieces, [...sealed.last.values()]).then(
      () => {
        committed += sealed.outputs.length;
        if (committed >= total) doneAt = performance.now();
        committing = undefined;
        client.resume();
        if (filling.outputs.length > 0) seal();
      },
      (error: unknown) => {
        failure = error as Error;
      },
    );
  };
  await client.consume((record) => {
    if (firstAt === 0) firstAt = performance.now();
    // The "transform": a new record from the consumed one (the client's cost is what is measured).
    const output = { key: record.key, value: Buffer.from(record.value) };
    filling.outputs.push(output);
    filling.bytes += output.key.length + output.value.length;
    filling.last.set(record.partition, record);
    if (filling.bytes >= MAX_TRANSACTION_BYTES) {
      if (committing) client.pause();
      else seal();
    } else timer ??= setTimeout(seal, COMMIT_INTERVAL_MS);
  });
  const deadline = Date.now() + 300_000;
  while (committed < total && !failure && Date.now() < deadline) await sleep(5);
  clearTimeout(timer);
  await client.close();
  if (failure) throw failure;
  if (committed < total) throw new Error(`only ${committed} of ${total} records committed in 300 s`);
  return total / ((doneAt - firstAt) / 1000);
}

function kafkajsLoop(
  kafka: Kafka,
  groupId: string,
  source: string,
  target: string,
): LoopClient<LoopRecord & { offset: string; topic: string }> {
  const producer = kafka.producer({
    transactionalId: `bench-kafkajs-${randomUUID()}`,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxBytesPerPartition: 1_048_576 });
  let paused = false;
  const waiting: (() => void)[] = [];
  return {
    async consume(onRecord) {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [source], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 3,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages as KafkaMessage[]) {
            onRecord({
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
              key: message.key!,
              value: message.value!,
            });
          }
          // kafkajs fetches again once eachBatch returns: hold it while both transactions are full.
          while (paused) await new Promise<void>((resolve) => waiting.push(resolve));
        },
      });
    },
    pause: () => (paused = true),
    resume: () => {
      paused = false;
      for (const wake of waiting.splice(0)) wake();
    },
    async transaction(pieces, lastPerPartition) {
      const transaction = await producer.transaction();
      try {
        for (const piece of pieces) {
          await transaction.send({ topic: target, acks: -1, messages: piece });
        }
        await transaction.sendOffsets({
          consumerGroupId: groupId,
          topics: [
            {
              topic: source,
              partitions: lastPerPartition.map((record) => ({
                partition: record.partition,
                offset: (BigInt(record.offset) + 1n).toString(),
              })),
            },
          ],
        });
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    },
    async close() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

function platformaticLoop(
  groupId: string,
  source: string,
  target: string,
): LoopClient<PlatformaticMessage & LoopRecord> {
  const consumer = new PlatformaticConsumer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: [BROKER],
    groupId,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    autocommit: false,
    maxBytesPerPartition: 1_048_576,
  });
  const producer = new PlatformaticProducer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: [BROKER],
    transactionalId: `bench-platformatic-${randomUUID()}`,
    idempotent: true,
    acks: ProduceAcks.ALL,
  });
  let stream: Awaited<ReturnType<typeof consumer.consume>> | undefined;
  return {
    async consume(onRecord) {
      stream = await consumer.consume({
        topics: [source],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      });
      stream.on('data', (message) => onRecord(message as PlatformaticMessage & LoopRecord));
    },
    pause: () => stream?.pause(),
    resume: () => stream?.resume(),
    async transaction(pieces, lastPerPartition) {
      const transaction = await producer.beginTransaction();
      try {
        for (const piece of pieces) {
          await transaction.send({ messages: piece.map((record) => ({ topic: target, ...record })) });
        }
        await transaction.addConsumer(consumer);
        // NOTE: one TxnOffsetCommit per partition (the library's API takes one message at a time).
        for (const record of lastPerPartition) await transaction.addOffset(record);
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    },
    async close() {
      await stream?.close();
      await consumer.close(true);
      await producer.close();
    },
  };
}

/**
 * The same work through the transformer's own loop (common's TransactionalStream on kafkajs), so
 * the hand-written loop above can be checked for fairness to kafkajs.
 */
async function runWrapper(kafka: Kafka, groupId: string, source: string, target: string, total: number) {
  let committed = 0;
  let firstAt = 0;
  let doneAt = 0;
  let aborted = 0;
  const stream = new TransactionalStream<TransactionalOutput>(kafka, {
    groupId,
    topics: [source],
    transactionalId: `bench-wrapper-${randomUUID()}`,
    commitIntervalMs: COMMIT_INTERVAL_MS,
    maxTransactionBytes: MAX_TRANSACTION_BYTES,
    commitTimeoutMs: 30_000,
    sessionTimeoutMs: 30_000,
    maxBytesPerPartition: 1_048_576,
    logger: quietLogger,
    process: (record) => {
      if (firstAt === 0) firstAt = performance.now();
      return { records: [{ topic: target, key: record.key, value: Buffer.from(record.value!) }] };
    },
    committed: (outputs) => {
      committed += outputs.length;
      if (committed >= total && doneAt === 0) doneAt = performance.now();
    },
    aborted: (outputs) => (aborted += outputs.length),
  });
  await stream.start();
  const deadline = Date.now() + 300_000;
  while (committed < total && Date.now() < deadline) await sleep(5);
  await stream.stop();
  if (committed < total) throw new Error(`only ${committed} of ${total} records committed (${aborted} aborted)`);
  return total / ((doneAt - firstAt) / 1000);
}

// ------------------------------------------------------------------------------- the run

/**
 * A round counts only if it did the work: the group's committed offsets cover the whole source
 * and a read_committed reader finds every output record (committed in the transactions).
 */
async function verifyLoop(kafka: Kafka, groupId: string, source: string, target: string, expected: number) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [source] });
    const offsets = committed!.partitions.reduce((sum, partition) => sum + Number(partition.offset), 0);
    if (offsets !== expected) throw new Error(`group ${groupId} committed ${offsets} offsets, not ${expected}`);
  } finally {
    await admin.disconnect();
  }
  const reader = kafka.consumer({ groupId: `bench-verify-${randomUUID()}`, readUncommitted: false });
  let count = 0;
  await reader.connect();
  try {
    await reader.subscribe({ topics: [target], fromBeginning: true });
    await reader.run({ eachBatch: async ({ batch }) => void (count += batch.messages.length) });
    const deadline = Date.now() + 60_000;
    while (count < expected && Date.now() < deadline) await sleep(100);
    if (count !== expected) throw new Error(`${target} holds ${count} committed records, not ${expected}`);
  } finally {
    await reader.disconnect();
  }
}

export async function benchClients(
  options: { records?: number; rounds?: number; log?: (line: string) => void } = {},
): Promise<ClientFigures> {
  const records = options.records ?? Number(process.env.CLIENTS_RECORDS ?? 60_000);
  const rounds = options.rounds ?? Number(process.env.CLIENTS_ROUNDS ?? 3);
  const log = options.log ?? ((line: string) => console.log(`bench: ${line}`));
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const kafka = createKafka(
    { brokers: [BROKER], clientId: 'bench-clients', ssl: false, connectionTimeoutMs: 3_000, requestTimeoutMs: 30_000 },
    quietLogger,
  );
  const admin = kafka.admin();
  await admin.connect();
  const topic = (name: string) => `${prefix}${name}`;
  const figures: ClientFigures = {
    produce: { kafkajs: [], platformatic: [] },
    transactional: { kafkajs: [], platformatic: [] },
    wrapper: [],
  };
  try {
    const names = ['produce', 'source'].map(topic);
    await admin.createTopics({
      topics: names.map((name) => ({ topic: name, numPartitions: 3, replicationFactor: 1 })),
      waitForLeaders: true,
    });
    const payload = recordsToSend(records);
    // The loop's source: filled once; every round reads it whole under a new consumer group.
    await produceKafkajs(kafka, topic('source'), payload, false);

    for (let round = 1; round <= rounds; round++) {
      const order: ClientName[] = round % 2 === 1 ? ['kafkajs', 'platformatic'] : ['platformatic', 'kafkajs'];
      for (const client of order) {
        const rate =
          client === 'kafkajs'
            ? await produceKafkajs(kafka, topic('produce'), payload)
            : await producePlatformatic(topic('produce'), payload);
        figures.produce[client].push(Math.round(rate));
        log(`round ${round} produce ${client}: ${Math.round(rate).toLocaleString('en')} records/s`);
      }
      for (const client of order) {
        // A fresh output topic per round, so the check below counts this round's records only.
        const target = topic(`out-${client}-${round}`);
        await admin.createTopics({
          topics: [{ topic: target, numPartitions: 3, replicationFactor: 1 }],
          waitForLeaders: true,
        });
        const groupId = `bench-${client}-${randomUUID()}`;
        const rate =
          client === 'kafkajs'
            ? await runLoop(kafkajsLoop(kafka, groupId, topic('source'), target), records)
            : await runLoop(platformaticLoop(groupId, topic('source'), target), records);
        await verifyLoop(kafka, groupId, topic('source'), target, records);
        figures.transactional[client].push(Math.round(rate));
        log(
          `round ${round} transactional loop ${client}: ${Math.round(rate).toLocaleString('en')} records/s (offsets and committed records checked)`,
        );
      }
      const target = topic(`out-wrapper-${round}`);
      await admin.createTopics({
        topics: [{ topic: target, numPartitions: 3, replicationFactor: 1 }],
        waitForLeaders: true,
      });
      const groupId = `bench-wrapper-${randomUUID()}`;
      const rate = await runWrapper(kafka, groupId, topic('source'), target, records);
      await verifyLoop(kafka, groupId, topic('source'), target, records);
      figures.wrapper.push(Math.round(rate));
      log(
        `round ${round} transformer's loop (TransactionalStream, kafkajs): ${Math.round(rate).toLocaleString('en')} records/s`,
      );
    }
    return figures;
  } finally {
    await admin.disconnect();
    await deleteTopics(prefix);
  }
}

export function printClientFigures(figures: ClientFigures): void {
  const best = (values: number[]) => Math.max(...values);
  console.log('\n| measure | kafkajs (best) | @platformatic/kafka (best) | ratio |\n| --- | --- | --- | --- |');
  for (const [label, rows] of [
    ['idempotent produce, 500 B keyed, acks=all', figures.produce],
    ['transactional consume-transform-produce', figures.transactional],
  ] as const) {
    const kafkajs = best(rows.kafkajs);
    const platformatic = best(rows.platformatic);
    console.log(
      `| ${label} | ${kafkajs.toLocaleString('en')} records/s | ${platformatic.toLocaleString('en')} records/s | ${(platformatic / kafkajs).toFixed(2)}x |`,
    );
  }
  const wrapper = best(figures.wrapper);
  console.log(
    `| the same loop through common's TransactionalStream (kafkajs) | ${wrapper.toLocaleString('en')} records/s | | ${(best(figures.transactional.platformatic) / wrapper).toFixed(2)}x |`,
  );
}
