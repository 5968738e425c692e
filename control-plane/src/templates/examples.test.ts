import { createLogger } from '@muxly/common';
import { validateRule } from '@muxly/schemas';
import { TemplateCatalog } from './catalog.ts';
import { planInstance } from './instantiate.ts';
import { loadTemplates } from './sources.ts';

// Every connector and destination type ships ready-made examples, and each example's own request
// (its placeholder values) makes a valid create: config and credentials against the type's
// schema, a rule that compiles, a job with a cron schedule.

const logger = createLogger({ service: 'test', silent: true });

describe('template examples', () => {
  let catalog: TemplateCatalog;
  beforeAll(async () => {
    catalog = new TemplateCatalog(await loadTemplates(logger));
  });

  it('ships at least one example per built-in type, each with a unique id', () => {
    const types = catalog.list().map((template) => `${template.kind}/${template.type}`);
    expect(types).toEqual(expect.arrayContaining(['connector/ga4', 'destination/email']));
    for (const template of catalog.list()) {
      expect({ type: `${template.kind}/${template.type}`, hasExamples: (template.examples?.length ?? 0) > 0 }).toEqual({
        type: `${template.kind}/${template.type}`,
        hasExamples: true,
      });
      for (const example of template.examples ?? []) expect(catalog.example(example.id)?.template).toBe(template);
    }
  });

  it("instantiates each example's own request into valid creates", () => {
    for (const template of catalog.list()) {
      for (const example of template.examples ?? []) {
        const plan = planInstance(template.kind, template.type, example, example.request);
        expect(() =>
          catalog.validate(template.kind, template.type, plan.object.config ?? {}, plan.object.credentials ?? null),
        ).not.toThrow();
        if (template.kind === 'destination') {
          // The example's own rule (condition, transformations) is what the plan creates.
          expect(plan.rule).toMatchObject(example.rule!);
          expect(
            validateRule({ condition: plan.rule?.condition, transformations: plan.rule?.transformations ?? [] }),
          ).toEqual([]);
        } else {
          expect(plan.job?.schedule?.split(' ')).toHaveLength(5);
        }
      }
    }
  });

  it('leaves out what only the user knows: without it, validation names the field', () => {
    const { template, example } = catalog.example('ga4-daily-sessions-by-country')!;
    const plan = planInstance(template.kind, template.type, example, { name: 'x', credentials: { accessToken: 't' } });
    expect(() => catalog.validate('connector', 'ga4', plan.object.config ?? {}, { accessToken: 't' })).toThrow(
      expect.objectContaining({ errors: [expect.objectContaining({ pointer: '/config/propertyId' })] }),
    );
  });
});
