import { Kafka, logLevel } from 'kafkajs';

/**
 * Removes every topic whose name starts with `prefix` (a test's random prefix), so test runs do
 * not pile topics up on the shared broker. Safe to call when none exist.
 */
export async function deleteTopicsWithPrefix(brokers: string[], prefix: string): Promise<void> {
  await deleteTopicsAndGroups(brokers, { prefix });
}

/**
 * Removes what a test made on the shared broker: the topics named in `topics` or starting with
 * `prefix`, and the consumer groups named in `groups`. Only those that exist are deleted, so it is
 * safe after a test that failed early; a refusal (a group whose consumers are still running) fails
 * loudly rather than leaving state behind unnoticed.
 */
export async function deleteTopicsAndGroups(
  brokers: string[],
  what: { prefix?: string; topics?: readonly string[]; groups?: readonly string[] },
): Promise<void> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const named = new Set(what.topics ?? []);
    const { prefix } = what;
    const topics = (await admin.listTopics()).filter(
      (topic) => named.has(topic) || (prefix !== undefined && topic.startsWith(prefix)),
    );
    if (topics.length > 0) await admin.deleteTopics({ topics });
    if (what.groups?.length) {
      const wanted = new Set(what.groups);
      const groups = (await admin.listGroups()).groups.map((group) => group.groupId).filter((id) => wanted.has(id));
      if (groups.length > 0) await admin.deleteGroups(groups);
    }
  } finally {
    await admin.disconnect();
  }
}
