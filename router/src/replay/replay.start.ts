import type { Kafka } from 'kafkajs';
import type { KafkaProducer, Logger, MuxlySettings, TopicNames } from '@muxly/common';
import type { RoutingTable } from '../pipeline/pipeline.ts';
import { DeliveryReports } from './delivery-reports.ts';
import { ReplayConsumer, type ReplayTarget } from './replay.consumer.ts';

/** Starts the router's side of replays: the consumer of `muxly.replay` and its delivery reports. */
export async function startReplays(options: {
  settings: MuxlySettings;
  kafka: Kafka;
  producer: KafkaProducer;
  topics: TopicNames;
  target(destinationId: string): ReplayTarget | undefined;
  routing(): RoutingTable;
  logger: Logger;
}): Promise<{ reports: DeliveryReports; stop(): Promise<void> }> {
  const { topics } = options;
  const reports = new DeliveryReports(options.producer, topics.deliveries);
  const consumer = new ReplayConsumer({
    kafka: options.kafka,
    topic: topics.replay,
    groupId: `${topics.replay}.router`,
    dlqTopic: topics.dlq,
    producer: options.producer,
    reports,
    target: options.target,
    routing: options.routing,
    backoff: options.settings.router.retry,
    logger: options.logger.child({ component: 'replay' }),
  });
  await consumer.start();
  return { reports, stop: () => consumer.stop() };
}
