import { Kafka, logLevel } from 'kafkajs';

/**
 * Removes every topic whose name starts with `prefix` (a test's random prefix), so test runs do
 * not pile topics up on the shared broker. Safe to call when none exist.
 */
export async function deleteTopicsWithPrefix(brokers: string[], prefix: string): Promise<void> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
