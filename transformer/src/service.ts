import { hostname } from 'node:os';
import { Counter, type Registry } from 'prom-client';
import {
  BatchConsumer,
  createKafka,
  createLogger,
  createMetricsRegistry,
  createSchemaRegistry,
  ensureTopics,
  KafkaProducer,
  kafkaReadiness,
  registerJsonSchema,
  registryReadiness,
  startHealthServer,
  topicNames,
  topicSpecs,
  type Logger,
  type MuxlySettings,
  type RunningService,
} from '@muxly/common';
import { UnifiedEvent } from '@muxly/schemas';
import { DedupWindow } from './dedup.ts';
import { rawTransactionsHandler } from './raw.transactions.ts';

export interface TransformerService extends RunningService {
  healthPort: number;
  schemaId: number;
}

function createTransformerMetrics(registry: Registry) {
  const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
  return {
    events: counter('muxly_transformer_events_total', 'Unified events written to the events topic.'),
    deadLetters: counter('muxly_transformer_dead_letters_total', 'Raw records or items written to the DLQ.'),
    duplicates: counter(
      'muxly_transformer_duplicates_dropped_total',
      'Events dropped because their id was seen within the dedup window.',
    ),
    aborted: counter(
      'muxly_transformer_transactions_aborted_total',
      'Transactions aborted (the chunk is processed again).',
    ),
  };
}

export async function startTransformer(
  settings: MuxlySettings,
  logger: Logger = createLogger({ service: 'transformer', level: settings.log.level }),
): Promise<TransformerService> {
  const config = settings.transformer;
  const kafka = createKafka({ ...settings.kafka, clientId: `${settings.kafka.clientId}-transformer` }, logger);
  const topics = topicNames(settings.topics.prefix);
  if (settings.topics.create) await ensureTopics(kafka, topicSpecs(topics, settings.topics));

  // Register the contract first: a schema the registry refuses (incompatible change) stops the
  // service at start instead of publishing events nobody can decode.
  const registry = createSchemaRegistry(settings.schemaRegistry);
  const schemaId = await registerJsonSchema(registry, topics.events, UnifiedEvent);
  logger.info('unified event schema registered', { subject: `${topics.events}-value`, schemaId });

  // NOTE: the transactional id must be stable per instance: a restarted instance with the same id
  // fences its predecessor's unfinished transaction instead of leaving it hanging.
  const instanceId = config.instanceId ?? hostname();
  const producer = new KafkaProducer(kafka, { transactionalId: `${config.groupId}-${instanceId}` });
  await producer.connect();

  const metricsRegistry = createMetricsRegistry('transformer');
  const metrics = createTransformerMetrics(metricsRegistry);
  const dedup = new DedupWindow(config.dedupWindowSize);

  const consumer = new BatchConsumer(kafka, {
    groupId: config.groupId,
    topics: [topics.raw],
    commitMode: 'handler',
    chunkSize: config.chunkSize,
    sessionTimeoutMs: config.sessionTimeoutMs,
    logger,
  });
  await consumer.start(
    rawTransactionsHandler({
      producer,
      groupId: config.groupId,
      eventsTopic: topics.events,
      dlqTopic: topics.dlq,
      schemaId,
      dedup,
      maxTransactionBytes: config.maxTransactionBytes,
      metrics,
      logger,
    }),
  );

  let alive = true;
  const health = await startHealthServer({
    host: config.health.host,
    port: config.health.port,
    registry: metricsRegistry,
    readiness: { kafka: kafkaReadiness(kafka), schemaRegistry: registryReadiness(settings.schemaRegistry) },
    isAlive: () => alive,
  });
  logger.info('transformer running', {
    from: topics.raw,
    to: topics.events,
    health: `http://${config.health.host}:${health.port}`,
  });

  return {
    healthPort: health.port,
    schemaId,
    async stop() {
      alive = false;
      // The consumer finishes (or abandons, uncommitted) the chunk in progress before it leaves.
      await consumer.stop();
      await producer.disconnect();
      await health.close();
    },
  };
}
