import { Kafka, logLevel } from 'kafkajs';
import { ChaosPipeline, step } from '../support/chaos.ts';
import { PrivatePostgres, PrivateStack } from '../support/private-stack.ts';
import { REGISTRY_URL, requireLocalStack, stopAllStartedProcesses, waitFor } from '../support/services.ts';

// A rolling restart of a three-broker KRaft cluster (deploy/local/stack.sh start kafka-cluster,
// private folder and ports) under load: topics with replication factor 3 and min.insync.replicas
// 2, each broker stopped and started in turn, the next only once every replica is back in sync.
// Nothing accepted is lost and the database holds every metric exactly once. The schema registry
// is the shared one: it is not part of the fault.

const DELIVERY_BOUND_MS = 300_000;

let stack: PrivateStack;
let destination: PrivatePostgres;
let pipeline: ChaosPipeline;

beforeAll(async () => {
  await requireLocalStack();
  stack = await PrivateStack.create();
  step(`private three-broker cluster starting in ${stack.dir}`);
  // Assigned one by one: afterAll removes whatever did start, even when another start failed.
  const starting = stack.stack('start', 'kafka-cluster');
  destination = await PrivatePostgres.start();
  await starting;
  step('services starting');
  pipeline = await ChaosPipeline.start({
    brokers: stack.clusterBrokers,
    registryUrl: REGISTRY_URL,
    destination,
    replicationFactor: 3,
  });
  pipeline.startLoad();
  await pipeline.acceptsMore(200);
  step('load running');
}, 900_000);

afterAll(async () => {
  await pipeline?.stop();
  await stopAllStartedProcesses();
  await Promise.all([stack?.remove(), destination?.remove()]);
}, 180_000);

/** True when every partition of every topic has all three replicas in sync. */
async function fullyReplicated(kafka: Kafka): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata();
    return topics.every((topic) => topic.partitions.every((partition) => partition.isr.length === 3));
  } finally {
    await admin.disconnect();
  }
}

test('a rolling restart of the three brokers under load loses nothing and duplicates nothing in the database', async () => {
  const kafka = new Kafka({ brokers: stack.clusterBrokers, logLevel: logLevel.NOTHING });
  for (const node of ['kafka-node1', 'kafka-node2', 'kafka-node3']) {
    await waitFor('every replica in sync', () => fullyReplicated(kafka), 180_000, 1_000);
    await pipeline.acceptsMore(100);
    step(`${node}: stopping (SIGTERM, controlled shutdown)`);
    await stack.stack('stop', node);
    // Two of three brokers hold every partition's in-sync quorum: writes go on meanwhile.
    await pipeline.acceptsMore(100);
    step(`${node}: stopped, pipeline still accepting; starting it again`);
    await stack.stack('start', node);
  }
  await pipeline.acceptsMore(100);
  await pipeline.stopLoad();
  const tookMs = await pipeline.expectEverythingDelivered(DELIVERY_BOUND_MS);
  step(
    `rolling restart done: ${pipeline.accepted.size} metrics, all delivered ${(tookMs / 1000).toFixed(1)} s after the check began; ` +
      `longest gap between two accepted requests ${(pipeline.longestGapMs / 1000).toFixed(1)} s`,
  );
  expect(pipeline.exited()).toEqual([]);
}, 1_200_000);
