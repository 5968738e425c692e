import { CHECK_STEP_STATUSES, CONNECTION_TEST_STEPS } from '@muxly/schemas';
import { readOpenApi } from '../http/docs.ts';

// The connection test's step shape is one type (CheckStep in @muxly/schemas) from a type's own
// check to the API's answer; the published document must describe the same steps and statuses.

interface StepSchema {
  required: string[];
  properties: { name: { enum: string[] }; status: { enum: string[] } };
}

test('the OpenAPI document lists the steps and statuses of CheckStep, in order', () => {
  const { components } = readOpenApi().document as unknown as {
    components: { schemas: { ConnectionTest: { properties: { steps: { items: StepSchema } } } } };
  };
  const step = components.schemas.ConnectionTest.properties.steps.items;
  expect(step.properties.name.enum).toEqual([...CONNECTION_TEST_STEPS]);
  expect(step.properties.status.enum).toEqual([...CHECK_STEP_STATUSES]);
  expect([...step.required].sort()).toEqual(['detail', 'durationMs', 'name', 'status']);
});
