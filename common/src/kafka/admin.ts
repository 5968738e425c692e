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
