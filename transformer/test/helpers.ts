import { Kafka, logLevel, Partitioners, type IHeaders, type PartitionMetadata, type Producer } from 'kafkajs';
import { loadSettings, type MuxlySettings } from '@muxly/common';
import { KAFKA_BROKER, REGISTRY_URL, uniqueName } from '../../test/support/services.ts';

export const kafka = new Kafka({ brokers: [KAFKA_BROKER], logLevel: logLevel.NOTHING });

/** The settings document of an isolated transformer: own topics, group and transactional id. */
export function transformerDocument(extra: { transformer?: Record<string, unknown> } = {}) {
  const prefix = `${uniqueName('it-tf-')}.`;
  return {
    log: { level: 'warn' as const },
    kafka: { brokers: [KAFKA_BROKER] },
    schemaRegistry: { url: REGISTRY_URL },
    topics: { prefix, partitions: 3 },
    transformer: {
      health: { port: 0 },
      groupId: `${prefix}transformer`,
      instanceId: 'it-1',
      sessionTimeoutMs: 6_000,
      ...extra.transformer,
    },
  };
}

export const settingsOf = (document: object): MuxlySettings =>
  loadSettings({ env: {}, overrides: document as Record<string, unknown> });

export const apiEnvelope = (metrics: unknown[], sourceId = 'it') => ({
  envelopeVersion: 1,
  format: 'api.metrics.v1',
  source: { type: 'api', id: sourceId },
  receivedAt: new Date().toISOString(),
  payload: { metrics },
});

export async function connectedProducer(): Promise<Producer> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return producer;
}

export interface Collected {
  value: Buffer;
  headers: Record<string, string>;
  topic: string;
  partition: number;
  offset: string;
}

/** Every record of a topic from the beginning, read_committed unless told otherwise. */
export async function collect(topic: string, options: { readUncommitted?: boolean } = {}) {
  const consumer = kafka.consumer({
    groupId: uniqueName('it-tf-reader-'),
    readUncommitted: options.readUncommitted ?? false,
  });
  const records: Collected[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) =>
      void records.push({
        value: message.value ?? Buffer.alloc(0),
        headers: stringHeaders(message.headers),
        topic,
        partition,
        offset: message.offset,
      }),
  });
  return { records, stop: () => consumer.disconnect() };
}

function stringHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {}))
    out[key] = Array.isArray(value) ? String(value[0]) : String(value ?? '');
  return out;
}

/**
 * Metric names whose events land on each of the events topic's partitions (kafkajs's default
 * partitioner, murmur2 of the key, which is the name for a metric without dimensions).
 */
export function namesForEveryPartition(partitions: number, prefix: string): string[] {
  const partition = Partitioners.DefaultPartitioner();
  const metadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  })) as PartitionMetadata[];
  const names = new Map<number, string>();
  for (let index = 0; names.size < partitions; index++) {
    const name = `${prefix}${index}`;
    const chosen = partition({ topic: 't', partitionMetadata: metadata, message: { key: name, value: null } });
    if (!names.has(chosen)) names.set(chosen, name);
  }
  return [...names.values()];
}

/**
 * Proves that no duplicate is still on its way: writes one raw marker record to every raw
 * partition, each with one metric per events partition. The transformer commits a raw partition
 * in offset order, so once a read_committed reader has all the marker events, it has read every
 * event committed before them, duplicates included.
 */
export async function writeMarkers(producer: Producer, rawTopic: string, partitions: number): Promise<string[]> {
  const names = namesForEveryPartition(partitions, uniqueName('marker-'));
  const ids: string[] = [];
  const messages = Array.from({ length: partitions }, (_, partition) => {
    const metrics = names.map((name, index) => ({
      id: `${name}-${partition}-${index}`,
      name,
      value: 1,
      timestamp: new Date().toISOString(),
    }));
    ids.push(...metrics.map((metric) => metric.id));
    return { partition, value: JSON.stringify(apiEnvelope(metrics)) };
  });
  await producer.send({ topic: rawTopic, acks: -1, messages });
  return ids;
}

export const eventIdOf = (record: Collected) => record.headers['muxly.event.id'];
