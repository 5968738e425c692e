import type { Kafka } from 'kafkajs';
import {
  BatchConsumer,
  compileValidator,
  createHttpClient,
  errorMessage,
  outboundPolicy,
  SecretKeyring,
  topicNames,
  type KafkaProducer,
  type Logger,
  type MuxlySettings,
  type ProgressTracker,
  type Tracing,
} from '@muxly/common';
import { JobCommand } from '@muxly/schemas';
import { createConnectorRegistry, loadPlugins, type ConnectorRegistry } from '../connectors/index.ts';
import { JobRunner } from './job.runner.ts';

const validateCommand = compileValidator(JobCommand);

export interface RunningJobs {
  runner: JobRunner;
  stop(): Promise<void>;
}

/**
 * Consumes `<prefix>commands` (one consumer group for all ingest instances) and hands run and
 * cancel commands to the JobRunner.
 *
 * NOTE: a run command's offset is committed once its sync has *started*, not when it ends: a
 * sync may take hours, and the cancel command for it arrives on the same partition (both are
 * keyed by job id) and must not wait behind it. If ingest dies mid-sync the command is not
 * replayed; the control plane marks the execution timed out at its deadline and retries it.
 */
export async function startJobs(options: {
  kafka: Kafka;
  producer: KafkaProducer;
  settings: MuxlySettings;
  logger: Logger;
  registry?: ConnectorRegistry;
  progress?: ProgressTracker;
  tracing?: Tracing;
}): Promise<RunningJobs> {
  const { settings } = options;
  const jobs = settings.ingest.jobs;
  const logger = options.logger.child({ component: 'jobs' });
  const topics = topicNames(settings.topics.prefix);
  let registry = options.registry;
  if (!registry) {
    // NOTE: each plugin is loaded and validated on its own; one that fails is logged by the
    // loader (with its location and why) and left out, and ingest runs without it.
    const loaded = await loadPlugins(jobs.plugins, { baseDirectory: process.cwd(), log: logger });
    registry = createConnectorRegistry(loaded.plugins);
    logger.info('connector types available', {
      connectorTypes: registry.types(),
      pluginFailures: loaded.failures.length,
    });
  }
  // The operator's outbound allow-list (outbound.allowAddresses, loopback too in local mode).
  const http = createHttpClient({ allow: outboundPolicy(settings).allowAddresses, timeoutMs: jobs.httpTimeoutMs });
  const runner = new JobRunner({
    registry,
    keyring: new SecretKeyring(settings.controlPlane.secrets),
    producer: options.producer,
    topics,
    maxConcurrentSyncs: jobs.maxConcurrentSyncs,
    http,
    recordsPerMessage: jobs.recordsPerMessage,
    progressIntervalMs: jobs.progressIntervalMs,
    logger,
    tracing: options.tracing,
  });
  const consumer = new BatchConsumer(options.kafka, {
    groupId: `${topics.commands}.ingest`,
    topics: [topics.commands],
    fromBeginning: true,
    chunkSize: 50,
    progress: options.progress,
    logger,
  });
  try {
    await consumer.start(async (messages, context) => {
      for (const [index, message] of messages.entries()) {
        let command: unknown;
        try {
          command = JSON.parse(message.value?.toString('utf8') ?? '');
        } catch (error) {
          logger.warn('command is not JSON; skipped', { offset: message.offset, error: errorMessage(error) });
          continue;
        }
        const problems = validateCommand(command);
        if (problems.length > 0) {
          logger.warn('command does not match the command format; skipped', { offset: message.offset, problems });
          continue;
        }
        const typed = command as JobCommand;
        if (typed.type === 'cancel') {
          runner.cancel(typed);
          continue;
        }
        // Commit what is done so far and stop when the partition is being taken away mid-wait.
        if (!(await runner.waitForSlot(context.shouldContinue, context.heartbeat))) return index;
        runner.start(typed);
      }
    });
  } catch (error) {
    http.close();
    throw error;
  }
  logger.info('job runner consuming commands', { topic: topics.commands, maxConcurrentSyncs: jobs.maxConcurrentSyncs });
  return {
    runner,
    async stop() {
      await consumer.stop();
      await runner.stop();
      http.close();
    },
  };
}
