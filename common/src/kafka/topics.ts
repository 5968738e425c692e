/** The topics of the pipeline (docs/architecture.md "Processes and topics"), named under a configurable prefix. */
export const TOPIC_KEYS = ['raw', 'events', 'dlq', 'config', 'commands', 'jobResults', 'replay', 'deliveries'] as const;
export type TopicKey = (typeof TOPIC_KEYS)[number];
export type TopicNames = Record<TopicKey, string>;

const SUFFIX: Record<TopicKey, string> = {
  raw: 'raw',
  events: 'events',
  dlq: 'dlq',
  config: 'config',
  commands: 'commands',
  jobResults: 'job-results',
  replay: 'replay',
  deliveries: 'deliveries',
};

export function topicNames(prefix: string): TopicNames {
  return Object.fromEntries(TOPIC_KEYS.map((key) => [key, `${prefix}${SUFFIX[key]}`])) as TopicNames;
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configEntries: { name: string; value: string }[];
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Partitions and retention of each topic. Data topics keep a week so a destination can be
 * replayed; the DLQ keeps a month for people to look at; `config` is compacted so a service
 * reading it from the start sees the latest effective configuration of every object.
 */
export function topicSpecs(names: TopicNames, options: { partitions: number; replicationFactor: number }): TopicSpec[] {
  // NOTE: with replicas, an acknowledged write (acks=all) must be on at least two of them, so losing
  // one broker loses nothing; with exactly two replicas one may be down and writes go on.
  const durability =
    options.replicationFactor > 1
      ? [{ name: 'min.insync.replicas', value: String(Math.min(2, options.replicationFactor - 1)) }]
      : [];
  const data = (topic: string, retentionMs: number, extra: { name: string; value: string }[] = []): TopicSpec => ({
    topic,
    numPartitions: options.partitions,
    replicationFactor: options.replicationFactor,
    configEntries: [{ name: 'retention.ms', value: String(retentionMs) }, ...durability, ...extra],
  });
  return [
    // A raw record carries one whole ingest request (up to 1 MB of metrics plus its envelope).
    data(names.raw, 7 * DAY_MS, [{ name: 'max.message.bytes', value: String(4 * 1024 * 1024) }]),
    data(names.events, 7 * DAY_MS),
    data(names.dlq, 30 * DAY_MS, [{ name: 'max.message.bytes', value: String(4 * 1024 * 1024) }]),
    data(names.commands, 7 * DAY_MS),
    data(names.jobResults, 7 * DAY_MS),
    // Dead letters sent again to their own destination (the router consumes it); as large as the DLQ's.
    data(names.replay, 7 * DAY_MS, [{ name: 'max.message.bytes', value: String(4 * 1024 * 1024) }]),
    // The router's compact delivery reports (replay progress, and every live outcome for the tap):
    // one per event and destination, so short-lived. A control plane down for longer than this
    // loses the progress reports of a replay running meanwhile.
    data(names.deliveries, HOUR_MS),
    {
      topic: names.config,
      numPartitions: 1,
      replicationFactor: options.replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'min.compaction.lag.ms', value: '0' },
        { name: 'segment.ms', value: String(DAY_MS) },
        ...durability,
      ],
    },
  ];
}
