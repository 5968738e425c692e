import { tmpdir } from 'node:os';
import { ForbiddenDatabases } from '@muxly/common';
import { Value } from '@sinclair/typebox/value';
import { destinationRegistry } from './registry.ts';
import { destinationTemplates } from './templates.ts';

const none = new ForbiddenDatabases([]);

describe('destination templates', () => {
  test("one template per registered destination type, with the plugin's own schema", () => {
    expect(destinationTemplates.map((template) => template.type).sort()).toEqual(
      Object.keys(destinationRegistry).sort(),
    );
    for (const template of destinationTemplates) {
      expect(template.configSchema).toBe(destinationRegistry[template.type].configSchema);
    }
  });

  test.each(destinationTemplates.map((template) => [template.type, template] as const))(
    '%s: required fields and defaults agree with the schema',
    (_type, template) => {
      const schema = template.configSchema as unknown as { required?: string[]; properties: Record<string, unknown> };
      expect([...(schema.required ?? [])].sort()).toEqual(expect.arrayContaining([...template.required].sort()));
      for (const field of template.required) expect(schema.properties).toHaveProperty(field);
      // The advertised defaults are the schema's own.
      const filled = Value.Default(template.configSchema, {}) as Record<string, unknown>;
      for (const [field, value] of Object.entries(template.defaults)) {
        if (typeof value !== 'object') expect(filled[field]).toEqual(value);
      }
    },
  );
});

describe('template secrets and checks', () => {
  test.each(destinationTemplates.map((template) => [template.type, template] as const))(
    '%s: secrets are top-level config fields',
    (_type, template) => {
      const properties = (template.configSchema as unknown as { properties: Record<string, unknown> }).properties;
      for (const field of template.secrets) expect(properties).toHaveProperty(field);
    },
  );

  const byType = (type: string) => destinationTemplates.find((template) => template.type === type)!;

  test('the check reports an invalid configuration as a failed config step', async () => {
    const steps = await byType('webhook').check!(
      { url: 'ftp://nope' },
      {
        signal: AbortSignal.timeout(5000),
        outbound: { fileBaseDirectory: tmpdir(), allowAddresses: [] },
        forbiddenDatabases: none,
      },
    );
    expect(steps).toEqual([
      expect.objectContaining({ name: 'config', status: 'failed', detail: expect.stringContaining('config.url') }),
    ]);
  });

  test("the check runs the destination's health check (the webhook address guard refuses loopback)", async () => {
    const steps = await byType('webhook').check!(
      { url: 'http://127.0.0.1:9/hook' },
      {
        signal: AbortSignal.timeout(5000),
        outbound: { fileBaseDirectory: tmpdir(), allowAddresses: [] },
        forbiddenDatabases: none,
      },
    );
    expect(steps.map((step) => [step.name, step.status])).toEqual([
      ['config', 'ok'],
      ['connect', 'failed'],
      ['authenticate', 'skipped'],
      ['permission', 'skipped'],
      ['check', 'skipped'],
    ]);
    expect(steps[1]!.detail).toContain('refused');
  });

  test('the prometheus exporter is not checked from the control plane', () => {
    expect(byType('prometheus').check).toBeUndefined();
  });
});
