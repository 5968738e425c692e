import { UnifiedEvent } from '@muxly/schemas';
import { REGISTRY_URL, requireLocalStack, uniqueName } from '../../test/support/services.ts';

// How the unified event schema may evolve under the registry's global BACKWARD rule (Apicurio's
// JSON Schema compatibility checker, through its Confluent-compatible API). docs/consuming-events.md
// states the rule these tests pin down.

type JsonSchema = { properties: Record<string, Record<string, unknown>>; required: string[]; [key: string]: unknown };
const current = (): JsonSchema => structuredClone(JSON.parse(JSON.stringify(UnifiedEvent)) as JsonSchema);

async function register(subject: string, schema: object): Promise<{ status: number; message: string }> {
  const response = await fetch(`${REGISTRY_URL}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(schema) }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { message?: string };
  return { status: response.status, message: body.message ?? '' };
}

beforeAll(async () => {
  await requireLocalStack();
  const config = (await (await fetch(`${REGISTRY_URL}/config`)).json()) as { compatibilityLevel?: string };
  expect(config.compatibilityLevel).toBe('BACKWARD');
});

test.each([
  [
    'removing a required field',
    (schema: JsonSchema) => {
      delete schema.properties.name;
      schema.required = schema.required.filter((field) => field !== 'name');
    },
    /propertySchemasRemoved/,
  ],
  [
    'changing a type',
    (schema: JsonSchema) => void (schema.properties.value = { type: 'string' }),
    /Subschema type changed at \/properties\/value/,
  ],
  [
    'adding a required field',
    (schema: JsonSchema) => {
      schema.properties.tenant = { type: 'string' };
      schema.required.push('tenant');
    },
    /new required property was added/,
  ],
])('a breaking change of the unified event (%s) is refused by the registry', async (_case, change, diff) => {
  const subject = `${uniqueName('it-evolve-')}.events-value`;
  expect((await register(subject, current())).status).toBe(200);
  const next = current();
  change(next);
  const refused = await register(subject, next);
  expect(refused.status).toBe(409);
  expect(refused.message).toMatch(diff);
});

/**
 * NOTE: Apicurio compares `anyOf` subschemas pairwise and reports the `kind` union that TypeBox
 * emits (`anyOf` of `const`s) as incompatible with ITSELF, so today the registry refuses every
 * new version of the unified event, compatible or not. Written as `{ type: string, enum: [...] }`
 * (same values, same validation), the checker works as BACKWARD promises.
 */
const withKindAsEnum = (schema: JsonSchema): JsonSchema => ({
  ...schema,
  properties: { ...schema.properties, kind: { type: 'string', enum: ['metric', 'event', 'record'] } },
});

test('a backward-compatible change (a new optional field) registers under the subject', async () => {
  const subject = `${uniqueName('it-evolve-')}.events-value`;
  expect((await register(subject, withKindAsEnum(current()))).status).toBe(200);
  const next = withKindAsEnum(current());
  next.properties.region = { type: 'string', maxLength: 100 };
  expect(await register(subject, next)).toEqual({ status: 200, message: '' });
  const versions = (await (
    await fetch(`${REGISTRY_URL}/subjects/${encodeURIComponent(subject)}/versions`)
  ).json()) as number[];
  expect(versions).toHaveLength(2);
});

test('the kind union as TypeBox emits it blocks every change (why the enum form is needed)', async () => {
  const subject = `${uniqueName('it-evolve-')}.events-value`;
  expect((await register(subject, current())).status).toBe(200);
  const next = current();
  next.properties.region = { type: 'string', maxLength: 100 };
  const refused = await register(subject, next);
  expect(refused.status).toBe(409);
  expect(refused.message).toMatch(/Combined type subschema not compatible at \/properties\/kind/);
});

test('an open object (additionalProperties allowed) refuses even a new optional field', async () => {
  const subject = `${uniqueName('it-evolve-')}.events-value`;
  const open = { ...withKindAsEnum(current()), additionalProperties: true };
  expect((await register(subject, open)).status).toBe(200);
  const next = structuredClone(open);
  next.properties.region = { type: 'string' };
  const refused = await register(subject, next);
  expect(refused.status).toBe(409);
  expect(refused.message).toMatch(/narrowed at \/propertySchemasAdded/);
});
