import type { Kafka } from 'kafkajs';
import type { TopicSpec } from './topics.ts';

/** Creates the missing topics; existing topics are left as they are (their config is the operator's). */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    }
    return missing.map((spec) => spec.topic);
  } finally {
    await admin.disconnect();
  }
}

/** Answers when a broker returns cluster metadata: the readiness check of every Kafka user. */
export function kafkaReadiness(kafka: Kafka): () => Promise<void> {
  return async () => {
    const admin = kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    try {
      await admin.describeCluster();
    } finally {
      await admin.disconnect();
    }
  };
}

/**
 * Records a consumer group has still to read on its topics: the end offset of each partition
 * minus the group's committed offset (the start of the partition where it has none). Throws when
 * the broker does not answer.
 *
 * NOTE: on a topic written in transactions the end offset counts the commit marker after the
 * last record, so a group that read everything can show a lag of one per partition; liveness
 * asks for the lag only of a consumer that has stopped fetching, where that does not matter.
 */
export async function consumerGroupLag(kafka: Kafka, groupId: string, topics: string[]): Promise<number> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics });
    let lag = 0n;
    for (const topic of topics) {
      const mine = committed.find((entry) => entry.topic === topic)?.partitions ?? [];
      for (const end of await admin.fetchTopicOffsets(topic)) {
        const offset = mine.find((entry) => entry.partition === end.partition)?.offset;
        const from = offset !== undefined && offset !== '-1' ? BigInt(offset) : BigInt(end.low);
        if (BigInt(end.high) > from) lag += BigInt(end.high) - from;
      }
    }
    return Number(lag);
  } finally {
    await admin.disconnect();
  }
}
