import { createRequire } from 'node:module';
import type { Kafka, KafkaMessage } from 'kafkajs';

// kafkajs has no public API for the two things a fan-out consumer needs: committing a group's
// offsets without being a member of it (Kafka's "simple consumer" commit, generation -1, which
// Kafka's own AdminClient.alterConsumerGroupOffsets uses), and reading a partition from an offset
// without a group. Both are plain protocol requests on its cluster object, reached here once.
const require = createRequire(import.meta.url);
const Batch = require('kafkajs/src/consumer/batch') as new (
  topic: string,
  fetchedOffset: string,
  partitionData: unknown,
) => { messages: KafkaMessage[]; highWatermark: string; isEmptyIncludingFiltered(): boolean; lastOffset(): string };

interface ClusterBroker {
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    topics: { topic: string; partitions: { partition: number; offset: string; metadata?: string | null }[] }[];
  }): Promise<{ responses: { partitions: { partition: number; errorCode: number }[] }[] }>;
  offsetFetch(request: {
    groupId: string;
    topics: { topic: string; partitions: { partition: number }[] }[];
  }): Promise<{ responses: { partitions: { partition: number; offset: string; errorCode: number }[] }[] }>;
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: { partition: number; errorCode: number }[] }[] }>;
}

interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findGroupCoordinator(request: { groupId: string }): Promise<ClusterBroker>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(request: { nodeId: string }): Promise<ClusterBroker>;
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

const READ_COMMITTED = 1;

function createCluster(kafka: Kafka): Cluster {
  const key = Object.getOwnPropertySymbols(kafka).find(
    (symbol) => symbol.description === 'private:Kafka:createCluster',
  );
  const factory = key && (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof factory !== 'function') throw new Error('this kafkajs version does not expose its cluster factory');
  return (factory as (options: object) => Cluster)({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED });
}

export interface PartitionRead {
  /** Committed records only (read_committed): no aborted records, no transaction markers. */
  messages: KafkaMessage[];
  /** Where the next read of this partition starts (past markers and aborted records too). */
  nextOffset: string;
  highWatermark: string;
}

/**
 * Offsets of consumer groups, and reads of single partitions from a given offset, without joining
 * any group.
 *
 * NOTE (offsets): a group's offsets can be written this way only while the group has no member
 * (the broker refuses otherwise); Muxly's per-destination groups never have members, so lag tools
 * and `kafka-consumer-groups --describe` still show each destination's position and lag.
 */
export class PartitionAccess {
  readonly #kafka: Kafka;
  #cluster: Promise<Cluster> | undefined;

  constructor(kafka: Kafka) {
    this.#kafka = kafka;
  }

  async #connected(topic: string): Promise<Cluster> {
    this.#cluster ??= (async () => {
      const cluster = createCluster(this.#kafka);
      await cluster.connect();
      return cluster;
    })();
    try {
      const cluster = await this.#cluster;
      await cluster.addTargetTopic(topic);
      return cluster;
    } catch (error) {
      await this.reset();
      throw error;
    }
  }

  /**
   * Writes the offsets (the next offset to read, per partition) of a group that has no member;
   * `metadata` is stored with each (Kafka's offset metadata, returned by an offset fetch).
   */
  async commit(
    groupId: string,
    topic: string,
    offsets: ReadonlyMap<number, string>,
    metadata: string | null = null,
  ): Promise<void> {
    if (offsets.size === 0) return;
    await this.#guard(topic, async (cluster) => {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      await coordinator.offsetCommit({
        groupId,
        groupGenerationId: -1,
        memberId: '',
        topics: [{ topic, partitions: [...offsets].map(([partition, offset]) => ({ partition, offset, metadata })) }],
      });
    });
  }

  /** The group's committed offsets of these partitions; a partition without one is left out. */
  async committed(groupId: string, topic: string, partitions: number[]): Promise<Map<number, string>> {
    return this.#guard(topic, async (cluster) => {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      const { responses } = await coordinator.offsetFetch({
        groupId,
        topics: [{ topic, partitions: partitions.map((partition) => ({ partition })) }],
      });
      const offsets = new Map<number, string>();
      for (const entry of responses.flatMap((response) => response.partitions))
        if (BigInt(entry.offset) >= 0n) offsets.set(entry.partition, entry.offset);
      return offsets;
    });
  }

  /** The earliest offset still in each partition (where a group without a position starts). */
  async earliest(topic: string, partitions: number[]): Promise<Map<number, string>> {
    return this.#guard(topic, async (cluster) => {
      const [result] = await cluster.fetchTopicsOffset([
        { topic, fromBeginning: true, partitions: partitions.map((partition) => ({ partition })) },
      ]);
      return new Map((result?.partitions ?? []).map((entry) => [entry.partition, entry.offset]));
    });
  }

  /** Reads committed records of one partition from `offset` (waits up to maxWaitMs for new ones). */
  async read(
    topic: string,
    partition: number,
    offset: string,
    options: { maxBytes?: number; maxWaitMs?: number } = {},
  ): Promise<PartitionRead> {
    const maxBytes = options.maxBytes ?? 1_048_576;
    return this.#guard(topic, async (cluster) => {
      const leaders = cluster.findLeaderForPartitions(topic, [partition]);
      const [nodeId] = Object.keys(leaders);
      if (nodeId === undefined) throw new Error(`no leader known for ${topic}[${partition}]`);
      const broker = await cluster.findBroker({ nodeId });
      const { responses } = await broker.fetch({
        replicaId: -1,
        isolationLevel: READ_COMMITTED,
        maxWaitTime: options.maxWaitMs ?? 500,
        minBytes: 1,
        maxBytes,
        topics: [{ topic, partitions: [{ partition, fetchOffset: offset, maxBytes }] }],
      });
      const data = responses.flatMap((response) => response.partitions).find((entry) => entry.partition === partition);
      if (!data) return { messages: [], nextOffset: offset, highWatermark: offset };
      const batch = new Batch(topic, offset, data);
      const nextOffset = batch.isEmptyIncludingFiltered() ? offset : (BigInt(batch.lastOffset()) + 1n).toString();
      return { messages: batch.messages, nextOffset, highWatermark: batch.highWatermark };
    });
  }

  /**
   * Runs a request; on failure drops the connections so the next call starts afresh (a restarted
   * broker, a moved leader or coordinator), then rethrows for the caller's backoff.
   */
  async #guard<T>(topic: string, request: (cluster: Cluster) => Promise<T>): Promise<T> {
    const cluster = await this.#connected(topic);
    try {
      return await request(cluster);
    } catch (error) {
      await this.reset();
      throw error;
    }
  }

  /** Closes the connections; the next call opens new ones. */
  async reset(): Promise<void> {
    const cluster = this.#cluster;
    this.#cluster = undefined;
    if (cluster) await cluster.then((connected) => connected.disconnect()).catch(() => undefined);
  }
}
