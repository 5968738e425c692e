import { hostname } from 'node:os';
import { Counter, type Registry } from 'prom-client';
import {
  createKafka,
  createLogger,
  createMetricsRegistry,
  consumerGroupLag,
  createSchemaRegistry,
  createTracing,
  ensureTopics,
  kafkaReadiness,
  ProgressTracker,
  registerJsonSchema,
  registryReadiness,
  startHealthServer,
  topicNames,
  topicSpecs,
  TransactionalStream,
  type Logger,
  type MuxlySettings,
  type RunningService,
} from '@muxly/common';
import { UnifiedEvent } from '@muxly/schemas';
import { DedupWindow } from './dedup.ts';
import { processRawChunk, type ProcessedChunk } from './raw.processor.ts';

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
      'Transactions aborted (their raw records are processed again).',
    ),
    recoveries: counter(
      'muxly_transformer_recoveries_total',
      'Times the consumer and producer were replaced after a failure (resuming from the committed offsets).',
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

  const metricsRegistry = createMetricsRegistry('transformer');
  const metrics = createTransformerMetrics(metricsRegistry);
  const dedup = new DedupWindow(config.dedupWindowSize);
  const tracing = createTracing(settings.tracing, 'transformer', logger);
  const processorOptions = { eventsTopic: topics.events, dlqTopic: topics.dlq, schemaId, dedup, tracing };
  const progress = new ProgressTracker({ stallAfterMs: settings.liveness.stallAfterMs, registry: metricsRegistry });
  // Progress is a committed transaction; an idle transformer (no lag on the raw topic) is never stalled.
  const streamProgress = progress.track(config.groupId, () => consumerGroupLag(kafka, config.groupId, [topics.raw]));

  // NOTE: the transactional id must be stable per instance: a restarted instance with the same id
  // fences its predecessor's unfinished transaction instead of leaving it hanging.
  const instanceId = config.instanceId ?? hostname();
  const stream = new TransactionalStream<ProcessedChunk>(kafka, {
    groupId: config.groupId,
    topics: [topics.raw],
    transactionalId: `${config.groupId}-${instanceId}`,
    commitIntervalMs: config.commitIntervalMs,
    maxTransactionBytes: config.maxTransactionBytes,
    commitTimeoutMs: config.commitTimeoutMs,
    sessionTimeoutMs: config.sessionTimeoutMs,
    maxBytesPerPartition: config.maxBytesPerPartition,
    logger,
    process: (record, source) => processRawChunk([record], source, processorOptions),
    committed: (outputs) => {
      streamProgress.advanced();
      let events = 0;
      let deadLetters = 0;
      let duplicates = 0;
      for (const output of outputs) {
        events += output.counts.events;
        deadLetters += output.counts.deadLetters;
        duplicates += output.counts.duplicates;
      }
      metrics.events.inc(events);
      metrics.deadLetters.inc(deadLetters);
      metrics.duplicates.inc(duplicates);
    },
    aborted: (outputs) => {
      if (outputs.length > 0) metrics.aborted.inc();
      // The ids of an aborted transaction were never published: their retry is not a duplicate.
      for (const output of outputs) dedup.remove(output.dedupKeys);
    },
    recovered: () => metrics.recoveries.inc(),
  });
  await stream.start();
  streamProgress.running(true);

  let alive = true;
  const health = await startHealthServer({
    host: config.health.host,
    port: config.health.port,
    registry: metricsRegistry,
    readiness: {
      kafka: kafkaReadiness(kafka),
      // NOTE: the registry is needed only at start (the schema id is known from then on); while it
      // is away readiness says so, and the transformer goes on transforming.
      schemaRegistry: registryReadiness(settings.schemaRegistry),
      consumer: progress.readiness,
    },
    isAlive: () => alive,
    progress,
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
      // Commits what was consumed so far (or aborts a failed transaction), then leaves the group.
      await stream.stop();
      await health.close();
      await tracing.shutdown();
    },
  };
}
