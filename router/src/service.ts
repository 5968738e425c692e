import { isDeepStrictEqual } from 'node:util';
import type { Kafka } from 'kafkajs';
import {
  createKafka,
  createLogger,
  createMetricsRegistry,
  ensureTopics,
  errorMessage,
  KafkaProducer,
  kafkaReadiness,
  ProgressTracker,
  startHealthServer,
  topicNames,
  topicSpecs,
  type Logger,
  type MuxlySettings,
  type RunningService,
} from '@muxly/common';
import type { Registry } from 'prom-client';
import { DeadLetterWriter } from './delivery/dead-letters.ts';
import { DestinationWorker } from './delivery/destination.worker.ts';
import { createRouterMetrics, type RouterMetrics } from './delivery/router.metrics.ts';
import { followLiveConfig } from './config/live-config.ts';
import { createDestination } from './destinations/create.ts';
import type { DestinationInstance } from './destinations/destination.ts';
import { RoutingTable, type DestinationDefinition, type PipelineDefinition } from './pipeline/pipeline.ts';
import { startReplays } from './replay/replay.start.ts';

export interface RouterService extends RunningService {
  healthPort: number;
  /** Applies a new pipeline definition live: rules swap atomically, destinations are diffed. */
  apply(pipeline: PipelineDefinition): Promise<void>;
}

interface RunningDestination {
  definition: DestinationDefinition;
  instance: DestinationInstance;
  worker: DestinationWorker;
  abort: AbortController;
  maxBatchSize: number;
}

interface RouterParts {
  settings: MuxlySettings;
  kafka: Kafka;
  eventsTopic: string;
  deadLetters: DeadLetterWriter;
  metrics: RouterMetrics;
  registry: Registry;
  progress: ProgressTracker;
  logger: Logger;
}

export async function startRouter(
  settings: MuxlySettings,
  logger: Logger = createLogger({ service: 'router', level: settings.log.level }),
): Promise<RouterService> {
  const kafka = createKafka({ ...settings.kafka, clientId: `${settings.kafka.clientId}-router` }, logger);
  const topics = topicNames(settings.topics.prefix);
  if (settings.topics.create) await ensureTopics(kafka, topicSpecs(topics, settings.topics));

  const producer = new KafkaProducer(kafka);
  await producer.connect();
  const registry = createMetricsRegistry('router');
  const parts: RouterParts = {
    settings,
    kafka,
    eventsTopic: topics.events,
    deadLetters: new DeadLetterWriter(producer, { dlqTopic: topics.dlq, sourceTopic: topics.events }),
    metrics: createRouterMetrics(registry),
    registry,
    progress: new ProgressTracker({ stallAfterMs: settings.liveness.stallAfterMs, registry }),
    logger,
  };

  const running = new Map<string, RunningDestination>();
  let routing = RoutingTable.compile([]);
  // NOTE: applies are serialized; two overlapping reloads would otherwise start a destination twice.
  let applying: Promise<void> = Promise.resolve();

  const apply = (pipeline: PipelineDefinition): Promise<void> => {
    const next = applying.then(async () => {
      const enabled = pipeline.destinations.filter((destination) => destination.enabled);
      // Compile first: an invalid rule set is refused whole and the running one stays.
      const table = RoutingTable.compile(
        pipeline.rules,
        new Set(pipeline.destinations.map((destination) => destination.id)),
        pipeline.routes ?? [],
      );
      const wanted = new Map(enabled.map((destination) => [destination.id, destination]));
      for (const [id, current] of running) {
        const definition = wanted.get(id);
        if (!definition || !isDeepStrictEqual(definition, current.definition)) {
          await stopDestination(current, logger);
          running.delete(id);
        }
      }
      routing = table;
      for (const definition of enabled) {
        if (running.has(definition.id)) continue;
        running.set(definition.id, await startDestination(definition, parts, () => routing));
      }
      logger.info('pipeline applied', {
        destinations: [...running.keys()],
        rules: pipeline.rules.filter((rule) => rule.enabled).length,
        routes: (pipeline.routes ?? []).filter((route) => route.enabled).length,
      });
    });
    applying = next.catch(() => undefined);
    return next;
  };

  await apply(settings.pipeline);
  // Live reload: the control plane's config topic overrides the settings file's pipeline by id.
  const live = await followLiveConfig(settings, apply, logger);
  // Replayed dead letters, each delivered only by the running destination it names.
  const replays = await startReplays({
    settings,
    kafka,
    producer,
    topics,
    target: (id) => {
      const destination = running.get(id);
      return destination && { instance: destination.instance, maxBatchSize: destination.maxBatchSize };
    },
    routing: () => routing,
    logger,
  });

  let alive = true;
  const health = await startHealthServer({
    host: settings.router.health.host,
    port: settings.router.health.port,
    registry,
    readiness: {
      kafka: kafkaReadiness(kafka),
      // Evaluated per probe, so destinations added by a live reload are checked too.
      destinations: async () => {
        await Promise.all([...running.values()].map((destination) => destination.instance.healthcheck()));
      },
      consumers: parts.progress.readiness,
    },
    isAlive: () => alive,
    progress: parts.progress,
  });
  logger.info('router running', {
    from: topics.events,
    health: `http://${settings.router.health.host}:${health.port}`,
  });

  return {
    healthPort: health.port,
    apply,
    async stop() {
      alive = false;
      await live.stop();
      await replays.stop();
      await applying;
      await Promise.all([...running.values()].map((destination) => stopDestination(destination, logger)));
      running.clear();
      await producer.disconnect();
      await health.close();
    },
  };
}

async function startDestination(
  definition: DestinationDefinition,
  parts: RouterParts,
  routing: () => RoutingTable,
): Promise<RunningDestination> {
  const abort = new AbortController();
  const log = parts.logger.child({ destination: definition.id });
  const { plugin, instance } = await createDestination(definition, {
    destinationId: definition.id,
    log,
    metrics: parts.registry,
    signal: abort.signal,
  });
  const worker = new DestinationWorker({
    kafka: parts.kafka,
    destinationId: definition.id,
    groupId: `${parts.settings.router.groupIdPrefix}${definition.id}`,
    eventsTopic: parts.eventsTopic,
    instance,
    maxBatchSize: plugin.maxBatchSize ?? 500,
    routing,
    deadLetters: parts.deadLetters,
    backoff: parts.settings.router.retry,
    metrics: parts.metrics,
    progress: parts.progress,
    logger: log,
  });
  await worker.start();
  log.info('destination started', { type: definition.type });
  return { definition, instance, worker, abort, maxBatchSize: plugin.maxBatchSize ?? 500 };
}

async function stopDestination(destination: RunningDestination, logger: Logger): Promise<void> {
  destination.abort.abort();
  await destination.worker.stop();
  await destination.instance
    .close()
    .catch((error: unknown) =>
      logger.warn('destination close failed', { destination: destination.definition.id, error: errorMessage(error) }),
    );
}
