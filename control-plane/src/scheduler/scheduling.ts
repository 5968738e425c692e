import type { Router } from 'express';
import type { Kafka } from 'kafkajs';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  ensureTopics,
  errorMessage,
  KafkaProducer,
  topicNames,
  topicSpecs,
  type BatchConsumer,
  type Logger,
  type MuxlySettings,
  type ProgressTracker,
  type SecretKeyring,
} from '@muxly/common';
import { ExecutionService } from '../executions/execution.service.ts';
import { executionRoutes } from '../executions/executions.routes.ts';
import { startResultsConsumer } from '../executions/results.consumer.ts';
import { sqlRows } from '../executions/store.ts';
import { hookRoutes, pruneDeliveries } from '../hooks/hooks.routes.ts';
import { CronScheduler, pollSchedules } from './cron.ts';

// Wires the scheduler into a control-plane instance: the executions service (commands out), the
// job-results consumer, cron schedules, and the sweeper (timeouts, due retries). Every instance
// may run all of it; the database makes each firing happen once (docs/scheduling.md).

export interface Scheduling {
  executions: ExecutionService;
  cron: CronScheduler | null;
  /** Mounted before the JSON body parser: webhooks are verified over their raw bytes. */
  hooks: Router;
  /** The /api/v1 operations (run, cancel), mounted after validation and authorization. */
  api: Router;
  stop(): Promise<void>;
}

export async function startScheduling(options: {
  settings: MuxlySettings;
  kafka: Kafka;
  orm: MikroORM;
  keyring: SecretKeyring;
  logger: Logger;
  progress?: ProgressTracker;
  /** Called after the control plane itself changed a connector (rotated credentials). */
  onConnectorChanged?: (id: string) => Promise<void>;
}): Promise<Scheduling> {
  const { settings, kafka, orm } = options;
  const config = settings.controlPlane.scheduler;
  const logger = options.logger.child({ component: 'scheduler' });
  const topics = topicNames(settings.topics.prefix);
  if (settings.topics.create) {
    await ensureTopics(
      kafka,
      topicSpecs(topics, settings.topics).filter(
        (spec) => spec.topic === topics.commands || spec.topic === topics.jobResults,
      ),
    );
  }
  const producer = new KafkaProducer(kafka, { sendTimeoutMs: 10_000 });
  await producer.connect();
  const executions = new ExecutionService({
    orm,
    producer,
    topics,
    logger,
    keyring: options.keyring,
    ...(options.onConnectorChanged ? { onConnectorChanged: options.onConnectorChanged } : {}),
  });
  const stops: (() => Promise<void> | void)[] = [() => producer.disconnect()];
  const stop = async () => {
    for (const close of stops.reverse())
      await Promise.resolve(close()).catch((error: unknown) =>
        logger.warn('error while stopping the scheduler', { error: errorMessage(error) }),
      );
  };

  let cron: CronScheduler | null = null;
  try {
    if (config.enabled) {
      const consumer: BatchConsumer = await startResultsConsumer({
        kafka,
        topic: topics.jobResults,
        groupId: `${topics.jobResults}.control-plane`,
        executions,
        progress: options.progress,
        logger,
      });
      stops.push(() => consumer.stop());

      cron = new CronScheduler({
        logger,
        onTick: async (jobId, scheduledFor) => {
          // The schedule list may be up to refreshIntervalMs old: check the job is still enabled.
          const [job] = await sqlRows<{ enabled: boolean }>(
            orm.em.fork(),
            `select enabled from scheduler_jobs where id = ?`,
            [jobId],
          );
          if (!job?.enabled) return;
          const created = await executions.trigger({ jobId, triggeredBy: 'schedule', scheduledFor });
          if (!created)
            logger.debug('cron tick already fired by another instance', {
              jobId,
              scheduledFor: scheduledFor.toISOString(),
            });
        },
      });
      const scheduler = cron;
      stops.push(() => scheduler.stop());
      const poller = pollSchedules({ orm, scheduler, intervalMs: config.refreshIntervalMs, logger });
      stops.push(() => poller.stop());
      await poller.refresh();

      let sweeping = false;
      let lastPrune = 0;
      const sweeper = setInterval(() => {
        if (sweeping) return;
        sweeping = true;
        const work = async () => {
          await executions.sweep();
          if (Date.now() - lastPrune > 60_000) {
            lastPrune = Date.now();
            await pruneDeliveries(orm, config.webhookToleranceSeconds);
          }
        };
        work()
          .catch((error: unknown) => logger.warn('scheduler sweep failed', { error: errorMessage(error) }))
          .finally(() => (sweeping = false));
      }, config.sweepIntervalMs);
      stops.push(() => clearInterval(sweeper));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    executions,
    cron,
    hooks: hookRoutes({
      executions,
      keyring: options.keyring,
      logger,
      toleranceSeconds: config.webhookToleranceSeconds,
      secretGraceSeconds: config.webhookSecretGraceSeconds,
      maxBodyBytes: config.webhookMaxBodyBytes,
    }),
    api: executionRoutes(executions),
    stop,
  };
}
