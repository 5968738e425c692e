import type { Kafka } from 'kafkajs';
import { BatchConsumer, compileValidator, errorMessage, type Logger, type ProgressTracker } from '@muxly/common';
import { JobResult } from '@muxly/schemas';
import type { ExecutionService } from './execution.service.ts';

const validateResult = compileValidator(JobResult);

/**
 * Records what ingest reports on `<prefix>job-results` in job_executions. All control-plane
 * instances share one consumer group, so each message is applied by one of them; a redelivery
 * after a crash is harmless because every transition is conditional (execution.service.ts).
 */
export async function startResultsConsumer(options: {
  kafka: Kafka;
  topic: string;
  groupId: string;
  executions: ExecutionService;
  progress?: ProgressTracker;
  logger: Logger;
}): Promise<BatchConsumer> {
  const consumer = new BatchConsumer(options.kafka, {
    groupId: options.groupId,
    topics: [options.topic],
    fromBeginning: true,
    chunkSize: 100,
    progress: options.progress,
    logger: options.logger,
  });
  await consumer.start(async (messages, context) => {
    for (const message of messages) {
      if (!context.shouldContinue()) return;
      let result: unknown;
      try {
        result = JSON.parse(message.value?.toString('utf8') ?? '');
      } catch (error) {
        options.logger.warn('job result is not JSON; skipped', { offset: message.offset, error: errorMessage(error) });
        continue;
      }
      const problems = validateResult(result);
      if (problems.length > 0) {
        options.logger.warn('job result does not match the job-result format; skipped', {
          offset: message.offset,
          problems,
        });
        continue;
      }
      // NOTE: a database error throws out of the handler: nothing of the chunk is committed and
      // kafkajs re-reads it, so a result is never lost while PostgreSQL is away.
      await options.executions.handleResult(result as JobResult);
    }
  });
  return consumer;
}
