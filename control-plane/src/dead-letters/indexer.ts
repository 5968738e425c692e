import type { Kafka } from 'kafkajs';
import type { MikroORM } from '@mikro-orm/postgresql';
import { BatchConsumer, errorMessage, type Logger } from '@muxly/common';
import { readDeadLetter } from './record.ts';
import { insertDeadLetters, purgeBefore } from './store.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface DeadLetterIndexer {
  /** Runs the retention purge now (also runs on its interval); returns how many were deleted. */
  purge(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Indexes `muxly.dlq` into PostgreSQL and purges what is older than the retention. All
 * control-plane instances share one consumer group, so each record is indexed by one of them.
 *
 * NOTE (offsets): a chunk's offsets are committed only after its rows were inserted; a database
 * error throws out of the handler, nothing is committed and the chunk is read again. Inserting is
 * idempotent per DLQ position, so a chunk read twice adds nothing twice.
 */
export async function startDeadLetterIndexer(options: {
  kafka: Kafka;
  orm: MikroORM;
  topic: string;
  groupId: string;
  retentionDays: number;
  purgeIntervalSeconds: number;
  logger: Logger;
}): Promise<DeadLetterIndexer> {
  const { orm, logger } = options;
  const consumer = new BatchConsumer(options.kafka, {
    groupId: options.groupId,
    topics: [options.topic],
    fromBeginning: true,
    chunkSize: 200,
    logger,
  });
  await consumer.start(async (messages, context) => {
    const letters = messages.map((message) => readDeadLetter(message, context.partition));
    const inserted = await insertDeadLetters(orm.em.fork(), letters);
    if (inserted > 0) logger.info('dead letters indexed', { partition: context.partition, count: inserted });
  });

  const purge = async () => {
    const deleted = await purgeBefore(orm.em.fork(), new Date(Date.now() - options.retentionDays * DAY_MS));
    if (deleted > 0) logger.info('dead letters purged (retention)', { count: deleted, days: options.retentionDays });
    return deleted;
  };
  const timer = setInterval(() => {
    purge().catch((error: unknown) => logger.warn('dead-letter purge failed', { error: errorMessage(error) }));
  }, options.purgeIntervalSeconds * 1000);
  timer.unref();

  return {
    purge,
    async stop() {
      clearInterval(timer);
      await consumer.stop();
    },
  };
}
