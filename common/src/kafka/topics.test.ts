import { topicNames, topicSpecs } from './topics.ts';

const config = (replicationFactor: number) =>
  topicSpecs(topicNames('t.'), { partitions: 3, replicationFactor }).map((spec) => ({
    topic: spec.topic,
    minInsync: spec.configEntries.find((entry) => entry.name === 'min.insync.replicas')?.value,
  }));

test('replicated topics require two in-sync replicas for an acknowledged write', () => {
  const topics = config(3);
  expect(topics.length).toBeGreaterThanOrEqual(6);
  for (const topic of topics) expect(topic).toEqual({ topic: topic.topic, minInsync: '2' });
});

test('two replicas keep writing with one broker down; one replica sets nothing', () => {
  expect(new Set(config(2).map((topic) => topic.minInsync))).toEqual(new Set(['1']));
  expect(new Set(config(1).map((topic) => topic.minInsync))).toEqual(new Set([undefined]));
});
