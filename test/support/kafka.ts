import { Kafka, logLevel } from 'kafkajs';
import type { TopicSpec } from '../../common/src/kafka/topics.ts';

/** A one-partition topic for a test, as `ensureTopics` takes it, with the given topic settings. */
export const testTopic = (topic: string, configEntries: TopicSpec['configEntries'] = []): TopicSpec => ({
  topic,
  numPartitions: 1,
  replicationFactor: 1,
  configEntries,
});

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

/**
 * Removes what a test made on the shared broker: the topics and consumer groups whose names start
 * with `prefix` (the test's random prefix, which its group ids share), and those named in `topics`
 * and `groups`. Only those that exist are deleted, so it is safe after a test that failed early;
 * a refusal (a group whose consumers still run) fails loudly instead of leaving them unnoticed.
 * Call it after the test's consumers stopped.
 */
export async function deleteTopicsAndGroups(
  brokers: string[],
  what: { prefix?: string; topics?: readonly string[]; groups?: readonly string[] },
): Promise<void> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  const ours = (named: readonly string[] | undefined) => {
    const names = new Set(named ?? []);
    return (name: string) => names.has(name) || (what.prefix !== undefined && name.startsWith(what.prefix));
  };
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(ours(what.topics));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((group) => group.groupId).filter(ours(what.groups));
    if (groups.length > 0) await admin.deleteGroups(groups);
  } finally {
    await admin.disconnect();
  }
}
