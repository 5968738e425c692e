// Reads Muxly's unified events from your own service.
//
//   npm install kafkajs @kafkajs/confluent-schema-registry
//   KAFKA_BROKERS=127.0.0.1:9092 SCHEMA_REGISTRY_URL=http://127.0.0.1:8085/apis/ccompat/v7 \
//   GROUP_ID=my-service node consume-events.ts
//
// Environment: KAFKA_BROKERS (comma-separated), SCHEMA_REGISTRY_URL, TOPIC (default muxly.events),
// GROUP_ID (your consumer group: one per application), FROM_BEGINNING (true to read the history on
// the group's first start), MAX_EVENTS (stop after that many; for demos and tests).
import { Kafka, logLevel } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

/** The fields of a unified event (schemaVersion 1); new optional fields may appear over time. */
export interface UnifiedEvent {
  id: string;
  schemaVersion: 1;
  kind: 'metric' | 'event' | 'record';
  name: string;
  timestamp: string;
  receivedAt: string;
  source: { type: string; id: string };
  value?: number;
  unit?: string;
  dimensions: Record<string, string | number | boolean>;
  attributes: Record<string, unknown>;
  entity?: { type: string; id: string };
}

export interface ConsumeOptions {
  brokers: string[];
  registryUrl: string;
  topic: string;
  groupId: string;
  fromBeginning: boolean;
  maxEvents?: number | undefined;
  onEvent: (event: UnifiedEvent) => Promise<void> | void;
}

/** Consumes until `maxEvents` were handled or the returned stop function is called. */
export async function consumeEvents(
  options: ConsumeOptions,
): Promise<{ stop: () => Promise<void>; done: Promise<void> }> {
  const kafka = new Kafka({ clientId: options.groupId, brokers: options.brokers, logLevel: logLevel.WARN });
  // The registry client fetches (and caches) the schema named by each record's 5-byte header.
  const registry = new SchemaRegistry({ host: options.registryUrl });
  // read_committed (kafkajs's default, spelled out): only events of committed transactions, so an
  // event the transformer wrote and then aborted is never seen.
  const consumer = kafka.consumer({ groupId: options.groupId, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: options.fromBeginning });

  let handled = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  await consumer.run({
    // The offset is committed after onEvent returned: a crash replays, it never skips. Make onEvent
    // idempotent by `event.id` (the same id may come again after a crash or a client's retry).
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      const event = (await registry.decode(message.value)) as UnifiedEvent;
      await options.onEvent(event);
      handled += 1;
      if (options.maxEvents !== undefined && handled >= options.maxEvents) finish();
    },
  });
  return {
    done,
    stop: async () => {
      finish();
      await consumer.disconnect();
    },
  };
}

// Run as a program: print each event as one JSON line.
if (import.meta.url === `file://${process.argv[1]}`) {
  const env = process.env;
  const maxEvents = env.MAX_EVENTS ? Number(env.MAX_EVENTS) : undefined;
  const consumer = await consumeEvents({
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8085/apis/ccompat/v7',
    topic: env.TOPIC ?? 'muxly.events',
    groupId: env.GROUP_ID ?? 'my-service',
    fromBeginning: env.FROM_BEGINNING === 'true',
    maxEvents,
    onEvent: (event) => void process.stdout.write(`${JSON.stringify(event)}\n`),
  });
  const shutdown = () => void consumer.stop().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  await consumer.done;
  await consumer.stop();
}
