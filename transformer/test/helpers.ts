import { Kafka, logLevel, type IHeaders, type Producer } from 'kafkajs';
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
    eachMessage: async ({ message }) =>
      void records.push({ value: message.value ?? Buffer.alloc(0), headers: stringHeaders(message.headers) }),
  });
  return { records, stop: () => consumer.disconnect() };
}

function stringHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {}))
    out[key] = Array.isArray(value) ? String(value[0]) : String(value ?? '');
  return out;
}
