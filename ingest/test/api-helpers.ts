import { createHash, randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { createLogger, loadSettings, type MuxlySettings } from '@muxly/common';
import { KAFKA_BROKER, REGISTRY_URL, uniqueName } from '../../test/support/services.ts';
import { startIngest, type IngestService } from '../src/service.ts';

export const WRITER_KEY = `mxk_test_${randomBytes(12).toString('hex')}`;
const sha256 = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;

/** Settings for an isolated ingest: own topic prefix, port 0, one known writer key. */
export function ingestSettings(
  overrides: { ingest?: Record<string, unknown>; brokers?: string[] } = {},
): MuxlySettings {
  return loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      kafka: { brokers: overrides.brokers ?? [KAFKA_BROKER] },
      schemaRegistry: { url: REGISTRY_URL },
      topics: { prefix: `${uniqueName('it-ingest-')}.`, partitions: 3 },
      ingest: { http: { port: 0 }, apiKeys: [{ id: 'writer', hash: sha256(WRITER_KEY) }], ...overrides.ingest },
    },
  });
}

export async function startTestIngest(
  settings: MuxlySettings,
  options: { silent?: boolean } = {},
): Promise<IngestService & { url: string }> {
  const service = await startIngest(
    settings,
    createLogger({ service: 'ingest-test', level: 'error', silent: options.silent ?? false }),
  );
  return { ...service, url: `http://127.0.0.1:${service.port}` };
}

export function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WRITER_KEY}`, 'content-type': 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(20_000),
  });
}

/** Reads `muxly_ingest_requests_rejected_total` from /metrics, by reason. */
export async function rejectionCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('muxly_ingest_requests_rejected_total{')) continue;
    const reason = /reason="([^"]+)"/.exec(line)?.[1];
    if (reason) counts[reason] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return counts;
}

export interface TopicCollector {
  values: string[];
  /** Each record's `traceparent` header, in the order of `values` (undefined: none). */
  traceparents: (string | undefined)[];
  /** Per partition, the offset after the last record read (compare with the high watermarks). */
  positions: Map<number, bigint>;
  /** What the reader itself went through: joins, crashes, kafkajs warnings. For failure reports. */
  events: string[];
  consumer: Consumer;
  stop: () => Promise<void>;
}

/** Collects every record of a topic (read_committed) from the beginning. */
export async function collectTopic(topic: string, broker = KAFKA_BROKER): Promise<TopicCollector> {
  const events: string[] = [];
  const at = () => new Date().toISOString().slice(11, 23);
  const kafka = new Kafka({
    brokers: [broker],
    logLevel: logLevel.WARN,
    logCreator: () => (entry) =>
      void events.push(
        `${at()} kafkajs ${entry.namespace}: ${String(entry.log.message)}${entry.log.error ? ` (${String(entry.log.error)})` : ''}`,
      ),
  });
  const consumer = kafka.consumer({ groupId: uniqueName('it-reader-'), readUncommitted: false });
  consumer.on(
    consumer.events.GROUP_JOIN,
    (event) => void events.push(`${at()} joined, assigned ${JSON.stringify(event.payload.memberAssignment)}`),
  );
  consumer.on(
    consumer.events.CRASH,
    (event) =>
      void events.push(`${at()} crashed: ${String(event.payload.error)} (restart: ${String(event.payload.restart)})`),
  );
  const values: string[] = [];
  const traceparents: (string | undefined)[] = [];
  const positions = new Map<number, bigint>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      values.push(message.value?.toString('utf8') ?? '');
      traceparents.push(message.headers?.traceparent?.toString());
      positions.set(partition, BigInt(message.offset) + 1n);
    },
  });
  return { values, traceparents, positions, events, consumer, stop: () => consumer.disconnect() };
}
