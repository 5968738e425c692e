import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { UnifiedEvent } from '@muxly/schemas';
import { postMetrics, startPipeline, type TestPipeline } from '../support/pipeline.ts';
import {
  KAFKA_BROKER,
  REGISTRY_URL,
  requireLocalStack,
  stopAllStartedProcesses,
  waitFor,
} from '../support/services.ts';

let pipeline: TestPipeline;

beforeAll(async () => {
  await requireLocalStack();
  pipeline = await startPipeline();
});

afterAll(async () => {
  await stopAllStartedProcesses();
});

test('a posted metric reaches the file destination and muxly.events, decodable through the registry', async () => {
  const response = await postMetrics(pipeline, {
    name: 'signup',
    value: 1,
    unit: 'count',
    dimensions: { plan: 'pro', region: 'eu' },
    attributes: { campaign: 'autumn' },
  });
  expect(response.status).toBe(202);
  const body = (await response.json()) as { accepted: number; ids: string[] };
  expect(body.accepted).toBe(1);
  const id = body.ids[0]!;

  const delivered = await waitFor(
    'the event in the destination file',
    async () => pipeline.deliveredIds().has(id),
    20_000,
  );
  expect(delivered).toBe(true);

  // A user's own consumer: read_committed, Confluent wire format decoded through the registry.
  const kafka = new Kafka({ brokers: [KAFKA_BROKER], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${pipeline.prefix}reader`, readUncommitted: false });
  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const decoded: unknown[] = [];
  const decodeErrors: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: `${pipeline.prefix}events`, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        decoded.push(await registry.decode(message.value!));
      } catch (error) {
        decodeErrors.push((error as Error).message);
      }
    },
  });
  try {
    await waitFor('the event on the events topic', async () => decoded.length > 0 || decodeErrors.length > 0, 20_000);
  } finally {
    await consumer.disconnect();
  }
  expect(decodeErrors).toEqual([]);
  expect(decoded[0]).toEqual({
    id,
    schemaVersion: 1,
    kind: 'metric',
    name: 'signup',
    timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    receivedAt: expect.stringMatching(/Z$/),
    source: { type: 'api', id: 'e2e' },
    value: 1,
    unit: 'count',
    dimensions: { plan: 'pro', region: 'eu' },
    attributes: { campaign: 'autumn' },
  });
  // The registry holds the schema as JSON Schema under the topic's value subject.
  const latest = await registry.getLatestSchemaId(`${pipeline.prefix}events-value`);
  const subjects = (await (
    await fetch(`${REGISTRY_URL}/subjects/${pipeline.prefix}events-value/versions/latest`)
  ).json()) as { id: number; schemaType: string; schema: string };
  expect(subjects.id).toBe(latest);
  expect(subjects.schemaType).toBe(SchemaType.JSON);
  // The very schema of the unified event, as the schemas package defines it.
  expect(JSON.parse(subjects.schema)).toEqual(JSON.parse(JSON.stringify(UnifiedEvent)));
});
