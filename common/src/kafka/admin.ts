import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { errorMessage } from '../errors.ts';
import type { TopicSpec } from './topics.ts';

/** How long ensureTopics waits for the topics' partitions to have leaders. */
const LEADER_WAIT_MS = 30_000;

/**
 * Creates the missing topics; existing topics are left as they are (their config is the
 * operator's). Answers once every named topic has a leader for each partition, so the caller
 * can produce and subscribe at once, also to topics another instance is creating meanwhile.
 */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    // NOTE: kafkajs's own waitForLeaders gives up on the first UNKNOWN_TOPIC_OR_PARTITION, and a
    // busy broker answers that for a while after it created a topic (its metadata lags the
    // controller's). CI saw a control plane fail to start on it; so wait here, through it.
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: false });
    if (specs.length > 0)
      await waitForLeaders(
        admin,
        specs.map((spec) => spec.topic),
      );
    return missing.map((spec) => spec.topic);
  } finally {
    await admin.disconnect();
  }
}

async function waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  for (;;) {
    let waiting: string;
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      const leaderless = topics.filter((topic) => {
        const partitions = metadata.topics.find((entry) => entry.name === topic)?.partitions ?? [];
        return partitions.length === 0 || partitions.some((partition) => partition.leader < 0);
      });
      if (leaderless.length === 0) return;
      waiting = `no leader yet for ${leaderless.join(', ')}`;
    } catch (error) {
      // Anything but the broker's "not there yet" answers is a real failure (e.g. no access).
      if ((error as { retriable?: boolean }).retriable !== true) throw error;
      waiting = errorMessage(error);
    }
    if (Date.now() >= deadline)
      throw new Error(`Kafka's topics ${topics.join(', ')} have no leader after ${LEADER_WAIT_MS} ms: ${waiting}`);
    await sleep(100);
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
