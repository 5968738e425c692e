import type { MikroORM } from '@mikro-orm/postgresql';
import type { Router } from 'express';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import {
  ensureTopics,
  KafkaProducer,
  topicNames,
  topicSpecs,
  type BatchConsumer,
  type Logger,
  type MuxlySettings,
} from '@muxly/common';
import type { ControlPlaneContext } from '../context.ts';
import { deadLetterRoutes } from './dead-letters.routes.ts';
import { startDeadLetterIndexer, type DeadLetterIndexer } from './indexer.ts';
import { registerDeadLetterMetrics } from './metrics.ts';
import { ReplayService, startReplayReports } from './replay.service.ts';
import { replayRoutes } from './replays.routes.ts';
import { dryRunRoutes } from '../rule-dry-run/dry-run.routes.ts';
import { tapRoutes } from '../tap/tap.routes.ts';

/** Most dead letters one replay may send (a larger selection is refused: narrow it). */
const MAX_REPLAY_RECORDS = 100_000;

export interface DeadLetterOperations {
  replays: ReplayService;
  indexer: DeadLetterIndexer | null;
  routes(context: ControlPlaneContext): Router[];
  stop(): Promise<void>;
}

/** Starts the dead-letter index, replays and their progress reports, the live tap (docs/operations.md). */
export async function startDeadLetterOperations(options: {
  settings: MuxlySettings;
  kafka: Kafka;
  orm: MikroORM;
  registry: Registry;
  logger: Logger;
}): Promise<DeadLetterOperations> {
  const { settings, kafka, orm, logger } = options;
  const topics = topicNames(settings.topics.prefix);
  // events: destinations' start positions, the rule dry-run and the tap read it.
  const used = new Set([topics.dlq, topics.raw, topics.events, topics.replay, topics.deliveries]);
  if (settings.topics.create)
    await ensureTopics(
      kafka,
      topicSpecs(topics, settings.topics).filter((spec) => used.has(spec.topic)),
    );
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const close of stops.reverse()) await close().catch(() => undefined);
  };
  try {
    const producer = new KafkaProducer(kafka, { sendTimeoutMs: 10_000 });
    await producer.connect();
    stops.push(() => producer.disconnect());
    const replays = new ReplayService({ orm, producer, kafka, topics, maxRecords: MAX_REPLAY_RECORDS, logger });
    stops.push(() => replays.drain());

    const config = settings.controlPlane.deadLetters;
    let indexer: DeadLetterIndexer | null = null;
    if (config.index) {
      const started = await startDeadLetterIndexer({
        kafka,
        orm,
        topic: topics.dlq,
        groupId: `${topics.dlq}.control-plane`,
        retentionDays: config.retentionDays,
        purgeIntervalSeconds: config.purgeIntervalSeconds,
        logger: logger.child({ component: 'dead-letter-index' }),
      });
      indexer = started;
      stops.push(() => started.stop());
      const reports: BatchConsumer = await startReplayReports({
        kafka,
        orm,
        topic: topics.deliveries,
        groupId: `${topics.deliveries}.control-plane`,
        logger: logger.child({ component: 'replay-reports' }),
      });
      stops.push(() => reports.stop());
    }
    registerDeadLetterMetrics(options.registry, orm);
    const tap = tapRoutes(kafka, settings, logger.child({ component: 'tap' }));
    stops.push(() => tap.closeAll());
    return {
      replays,
      indexer,
      routes: (context) => [
        dryRunRoutes(context, kafka, settings),
        deadLetterRoutes(context, replays),
        replayRoutes(context, replays),
        tap.router,
      ],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
