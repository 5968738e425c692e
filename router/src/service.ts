import { isDeepStrictEqual } from 'node:util';
import type { Kafka } from 'kafkajs';
import {
  createKafka,
  createLogger,
  createMetricsRegistry,
  createTracing,
  ensureTopics,
  errorMessage,
  forbiddenDatabasesOf,
  KafkaProducer,
  kafkaReadiness,
  outboundPolicy,
  PartitionAccess,
  ProgressTracker,
  startHealthServer,
  topicNames,
  topicSpecs,
  ConfigurationError,
  type ForbiddenDatabases,
  type Logger,
  type MuxlySettings,
  type RunningService,
  type Tracing,
} from '@muxly/common';
import type { Registry } from 'prom-client';
import { DeadLetterWriter } from './delivery/dead-letters.ts';
import { Delivery } from './delivery/delivery.ts';
import { DestinationLane } from './delivery/destination.lane.ts';
import { EventFanOut } from './delivery/event-fanout.ts';
import { LiveReports } from './delivery/live-reports.ts';
import { createRouterMetrics, type RouterMetrics } from './delivery/router.metrics.ts';
import { followLiveConfig } from './config/live-config.ts';
import { createDestination } from './destinations/create.ts';
import type { DestinationInstance } from './destinations/destination.ts';
import { DestinationHealthCache } from './destinations/health.cache.ts';
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
  lane: DestinationLane;
  abort: AbortController;
  maxBatchSize: number;
}

/** A destination's queue holds at least this many events (more when its batches are larger). */
const QUEUE_CAPACITY = 1_000;
/** How long a destination with a full queue may hold back the others before it is detached. */
const DETACH_AFTER_MS = 500;
/** Each destination's position is committed at most this often (and on stop). */
const COMMIT_INTERVAL_MS = 1_000;
/** On stop (or removal) a destination delivers what is queued within this time. */
const DRAIN_MS = 5_000;

/** The group the router instances share to split the events topic: the prefix without its trailing dot. */
export function sharedGroupId(groupIdPrefix: string): string {
  return groupIdPrefix.endsWith('.') ? groupIdPrefix.slice(0, -1) : `${groupIdPrefix}-shared`;
}

interface RouterParts {
  settings: MuxlySettings;
  kafka: Kafka;
  access: PartitionAccess;
  fanOut: EventFanOut;
  routing: () => RoutingTable;
  eventsTopic: string;
  deadLetters: DeadLetterWriter;
  metrics: RouterMetrics;
  registry: Registry;
  progress: ProgressTracker;
  destinationHealth: DestinationHealthCache;
  tracing: Tracing;
  forbiddenDatabases: ForbiddenDatabases;
  logger: Logger;
  liveReports: LiveReports | undefined;
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
  // Live reports have their own producer: its sends run one at a time, and a report batch must
  // never queue ahead of a dead letter.
  const reportProducer = settings.router.liveReports.enabled ? new KafkaProducer(kafka) : undefined;
  await reportProducer?.connect();
  const registry = createMetricsRegistry('router');
  const metrics = createRouterMetrics(registry);
  const liveReports =
    reportProducer &&
    new LiveReports({
      producer: reportProducer,
      topic: topics.deliveries,
      flushIntervalMs: settings.router.liveReports.flushIntervalMs,
      maxBuffered: settings.router.liveReports.maxBuffered,
      registry,
      logger: logger.child({ component: 'live-reports' }),
    });
  const access = new PartitionAccess(kafka);
  const progress = new ProgressTracker({ stallAfterMs: settings.liveness.stallAfterMs, registry });
  let routing = RoutingTable.compile([]);
  const tracing = createTracing(settings.tracing, 'router', logger);
  const fanOut = new EventFanOut({
    progress,
    tracing,
    kafka,
    access,
    groupId: sharedGroupId(settings.router.groupIdPrefix),
    eventsTopic: topics.events,
    routing: () => routing,
    detachAfterMs: DETACH_AFTER_MS,
    backoff: settings.router.retry,
    metrics,
    logger: logger.child({ component: 'fan-out' }),
  });
  const parts: RouterParts = {
    settings,
    kafka,
    access,
    fanOut,
    routing: () => routing,
    eventsTopic: topics.events,
    deadLetters: new DeadLetterWriter(producer, { dlqTopic: topics.dlq, sourceTopic: topics.events }),
    metrics,
    registry,
    progress,
    forbiddenDatabases: forbiddenDatabasesOf(settings),
    destinationHealth: new DestinationHealthCache(settings.router.destinationCheckIntervalSeconds * 1_000),
    tracing,
    logger,
    liveReports,
  };

  const running = new Map<string, RunningDestination>();
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
          await stopDestination(current, parts);
          running.delete(id);
        }
      }
      routing = table;
      for (const definition of enabled) {
        if (running.has(definition.id)) continue;
        try {
          running.set(definition.id, await startDestination(definition, parts));
        } catch (error) {
          if (!(error instanceof ConfigurationError)) throw error;
          // A destination its configuration forbids (e.g. a database Muxly protects) stays off:
          // nothing is sent and nothing dead-lettered for it, and the others start.
          logger.error('destination not started: configuration error', {
            destination: definition.id,
            error: errorMessage(error),
          });
        }
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
  await fanOut.start();
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
      // The last background check of each running destination (live reloads included).
      destinations: parts.destinationHealth.readiness,
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
      // Drain: stop handing out events, let every destination deliver its queue and commit, then
      // leave the group, so the next owner of the partitions starts where this instance ended.
      fanOut.pause();
      await Promise.all([...running.values()].map((destination) => stopDestination(destination, parts)));
      running.clear();
      parts.destinationHealth.clear();
      await fanOut.stop();
      await liveReports?.close();
      await reportProducer?.disconnect();
      await producer.disconnect();
      await health.close();
      await tracing.shutdown();
    },
  };
}

async function startDestination(definition: DestinationDefinition, parts: RouterParts): Promise<RunningDestination> {
  const abort = new AbortController();
  const log = parts.logger.child({ destination: definition.id });
  const { plugin, instance } = await createDestination(definition, {
    destinationId: definition.id,
    log,
    metrics: parts.registry,
    signal: abort.signal,
    outbound: outboundPolicy(parts.settings),
    forbiddenDatabases: parts.forbiddenDatabases,
  });
  const maxBatchSize = Math.max(plugin.maxBatchSize, 1);
  const delivery = new Delivery({
    destinationId: definition.id,
    eventsTopic: parts.eventsTopic,
    instance,
    maxBatchSize,
    routing: parts.routing,
    deadLetters: parts.deadLetters,
    backoff: parts.settings.router.retry,
    metrics: parts.metrics,
    logger: log,
    reports: parts.liveReports,
    tracing: parts.tracing,
    destinationType: definition.type,
  });
  const lane = new DestinationLane({
    destinationId: definition.id,
    groupId: `${parts.settings.router.groupIdPrefix}${definition.id}`,
    eventsTopic: parts.eventsTopic,
    delivery,
    kafka: parts.kafka,
    routing: parts.routing,
    sharedPosition: (partition) => parts.fanOut.position(partition),
    highWatermark: (partition) => parts.fanOut.highWatermark(partition),
    roomFreed: () => parts.fanOut.roomFreed(),
    capacity: Math.max(QUEUE_CAPACITY, 2 * maxBatchSize),
    maxBatchSize,
    commitIntervalMs: COMMIT_INTERVAL_MS,
    backoff: parts.settings.router.retry,
    metrics: parts.metrics,
    progress: parts.progress,
    tracing: parts.tracing,
    logger: log,
  });
  parts.fanOut.add(lane);
  parts.destinationHealth.add(definition.id, instance);
  log.info('destination started', { type: definition.type });
  return { definition, instance, lane, abort, maxBatchSize };
}

async function stopDestination(destination: RunningDestination, parts: RouterParts): Promise<void> {
  parts.fanOut.remove(destination.definition.id);
  parts.destinationHealth.remove(destination.definition.id);
  // Past the drain time the destination's in-flight work is aborted; the rest is redelivered.
  await destination.lane.stop(DRAIN_MS, () => destination.abort.abort());
  destination.abort.abort();
  await destination.instance.close().catch((error: unknown) =>
    parts.logger.warn('destination close failed', {
      destination: destination.definition.id,
      error: errorMessage(error),
    }),
  );
}
