import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kafka } from 'kafkajs';
import {
  createKafka,
  createMetricsRegistry,
  ensureTopics,
  errorMessage,
  forbiddenDatabasesOf,
  KafkaProducer,
  outboundPolicy,
  ProgressTracker,
  SecretKeyring,
  topicNames,
  topicSpecs,
  type Logger,
  type MuxlySettings,
} from '@muxly/common';
import { createApp, type Authorizer } from './app.ts';
import { createAuth } from './auth/auth.service.ts';
import { ConfigPublisher } from './config/publisher.ts';
import { configSources } from './config/sources.ts';
import type { ControlPlaneContext } from './context.ts';
import { migrate, openDatabase } from './db/orm.ts';
import { startDeadLetterOperations, type DeadLetterOperations } from './dead-letters/dead-letters.module.ts';
import { destinationPositions } from './positions/start-from.ts';
import { createHealthReporter, postgresReadiness } from './diagnosis/health.ts';
import { MetricsHistory } from './diagnosis/metrics-history.ts';
import { startScheduling, type Scheduling } from './scheduler/scheduling.ts';
import { reconcilePipeline } from './seed/reconcile.ts';
import { TemplateCatalog, type PluginTemplate } from './templates/catalog.ts';
import { loadTemplates } from './templates/sources.ts';

export interface ControlPlaneOptions {
  settings: MuxlySettings;
  logger: Logger;
  /** Defaults to the router's and ingest's templates. */
  templates?: PluginTemplate[];
  /** Replaces authentication and RBAC (tests of other parts); unset, every operation needs its permission. */
  authorize?: Authorizer;
  validateResponses?: boolean;
}

export interface RunningControlPlane {
  port: number;
  context: ControlPlaneContext;
  kafka: Kafka;
  scheduling: Scheduling;
  deadLetters: DeadLetterOperations;
  stop(): Promise<void>;
}

/**
 * Starts the control plane: database (migrated when configured), Kafka producer for the config
 * topic, the HTTP API. Stops in the reverse order: no new requests, drain config publishes,
 * close the producer, close the database pool.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const { settings, logger } = options;
  const cp = settings.controlPlane;
  const keyring = new SecretKeyring(cp.secrets);
  if (keyring.usesDevelopmentKey) {
    logger.warn(
      '!!! NO SECRET KEY CONFIGURED: credentials are encrypted with the PUBLIC DEVELOPMENT KEY and are readable by anyone. ' +
        'Set controlPlane.secrets.keys (openssl rand -base64 32) before storing real credentials. !!!',
      { setting: 'controlPlane.secrets.keys' },
    );
  }
  const templates = new TemplateCatalog(
    options.templates ?? (await loadTemplates(logger, { connectorPlugins: settings.ingest.jobs.plugins })),
  );

  const orm = await openDatabase(cp.database, logger);
  const cleanups: (() => Promise<void>)[] = [() => orm.close()];
  const cleanup = async () => {
    for (const close of cleanups.reverse())
      await close().catch((error: unknown) => logger.warn('error while stopping', { error: errorMessage(error) }));
  };
  try {
    if (cp.database.migrateOnStart) {
      const applied = await migrate(orm);
      logger.info(applied.length > 0 ? 'migrations applied' : 'database schema is up to date', { applied });
    }

    const topics = topicNames(settings.topics.prefix);
    const kafka = createKafka(settings.kafka, logger);
    // The seed writes new destinations' start positions on the events topic (seed/reconcile.ts).
    if (settings.topics.create)
      await ensureTopics(
        kafka,
        topicSpecs(topics, settings.topics).filter((spec) => spec.topic === topics.events),
      );
    let producer: KafkaProducer | null = null;
    if (cp.publishConfig) {
      if (settings.topics.create)
        await ensureTopics(
          kafka,
          topicSpecs(topics, settings.topics).filter(
            (spec) => spec.topic === topics.config || spec.topic === topics.commands,
          ),
        );
      producer = new KafkaProducer(kafka, { sendTimeoutMs: 10_000 });
      await producer.connect();
      const connected = producer;
      cleanups.push(() => connected.disconnect());
    }
    const publisher = new ConfigPublisher({ orm, producer, topic: topics.config, sources: configSources, logger });
    cleanups.push(() => publisher.stop());
    const context: ControlPlaneContext = {
      orm,
      keyring,
      templates,
      publisher,
      logger,
      maxPageSize: cp.maxPageSize,
      outbound: outboundPolicy(settings),
      forbiddenDatabases: forbiddenDatabasesOf(settings),
      positions: destinationPositions({
        kafka,
        eventsTopic: topics.events,
        groupIdPrefix: settings.router.groupIdPrefix,
        logger,
      }),
      deletedDestinationGroupGraceSeconds: cp.deletedDestinationGroupGraceSeconds,
    };

    const seeded = await reconcilePipeline(context, settings.pipeline);
    if (seeded.changed > 0) logger.info('pipeline seed reconciled', { ...seeded });
    const published = await publisher.publishAll();
    logger.info('pipeline configuration published', { topic: topics.config, objects: published });

    const registry = createMetricsRegistry('control-plane');
    const progress = new ProgressTracker({ stallAfterMs: settings.liveness.stallAfterMs, registry });
    const scheduling = await startScheduling({
      settings,
      kafka,
      orm,
      keyring,
      logger,
      progress,
      // Credentials a provider rotated are published like an edit's (muxly.config carries them encrypted).
      onConnectorChanged: (id) => publisher.notify('connector', id),
    });
    cleanups.push(() => scheduling.stop());

    const auth = await createAuth({ settings, orm, logger });

    const deadLetters = await startDeadLetterOperations({ settings, kafka, orm, registry, logger });
    cleanups.push(() => deadLetters.stop());
    const metricsHistory = new MetricsHistory({
      services: {
        ingest: cp.services.ingestUrl,
        transformer: cp.services.transformerUrl,
        router: cp.services.routerUrl,
      },
      intervalSeconds: cp.services.metricsIntervalSeconds,
      logger,
    });
    metricsHistory.start();
    cleanups.push(() => metricsHistory.stop());
    let alive = true;
    const app = createApp({
      metricsHistory,
      context,
      authorize: options.authorize ?? auth.authorize,
      authenticate: options.authorize ? undefined : auth.authenticate,
      authRoutes: auth.routes,
      consoleConnectOrigins: auth.sso ? [new URL(auth.sso.tokenEndpoint).origin] : [],
      validateResponses: options.validateResponses,
      scheduling,
      operations: deadLetters.routes(context),
      health: {
        registry,
        isAlive: () => alive,
        progress,
        readiness: { postgresql: postgresReadiness(orm), consumers: progress.readiness },
      },
      healthReport: createHealthReporter({
        orm,
        kafka,
        registry: settings.schemaRegistry,
        services: {
          ingest: cp.services.ingestUrl,
          transformer: cp.services.transformerUrl,
          router: cp.services.routerUrl,
        },
        eventsTopic: topics.events,
        rawTopic: topics.raw,
        routerGroupPrefix: settings.router.groupIdPrefix,
        transformerGroupId: settings.transformer.groupId,
      }),
    });
    const server: Server = await new Promise((resolve, reject) => {
      const listening = app.listen(cp.http.port, cp.http.host, () => resolve(listening));
      listening.once('error', reject);
    });
    const port = (server.address() as AddressInfo).port;
    logger.info('control-plane API listening', { host: cp.http.host, port });
    return {
      port,
      context,
      kafka,
      scheduling,
      deadLetters,
      async stop() {
        alive = false;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
