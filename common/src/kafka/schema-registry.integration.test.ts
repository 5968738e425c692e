import { randomUUID } from 'node:crypto';
import { REGISTRY_URL, requireLocalStack } from '../../../test/support/services.ts';
import { createSchemaRegistry, registerJsonSchema } from './schema-registry.ts';

// Against the real schema registry: instances of a service start together (two transformer
// replicas, a rollout) and register the same schema for a subject that does not exist yet.

beforeAll(async () => {
  await requireLocalStack();
});

test('instances registering the same schema for a new subject at once all start, with one schema id', async () => {
  const topic = `it-registry-${randomUUID()}`;
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: { id: { type: 'string' } },
    required: ['id'],
  };
  const ids = await Promise.all(
    Array.from({ length: 4 }, () => registerJsonSchema(createSchemaRegistry({ url: REGISTRY_URL }), topic, schema)),
  );
  expect(new Set(ids).size).toBe(1);
  expect(ids[0]).toBeGreaterThan(0);
});
