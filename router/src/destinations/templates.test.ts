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

const templateOf = (type: string) => destinationTemplates.find((template) => template.type === type)!;

describe("templates read from each destination's folder", () => {
  test('defaults and required fields come from the schema, inside a required object too', () => {
    expect(templateOf('email').defaults).toEqual({
      smtp: { port: 587, secure: false, requireTLS: false, timeoutMs: 30_000 },
    });
    expect(templateOf('email').required).toEqual(['smtp', 'from', 'to', 'subject', 'text']);
    expect(templateOf('database').defaults).toEqual({
      idColumn: 'id',
      onConflict: 'nothing',
      poolSize: 4,
      statementTimeoutMs: 30_000,
      ssl: false,
    });
    expect(templateOf('database').required).toEqual(['connectionString', 'table', 'columns']);
    expect(templateOf('webhook').defaults).toEqual({ headers: {}, batchSize: 1, timeoutMs: 10_000 });
  });

  test('a template hands out copies of the defaults: changing one changes no schema', () => {
    (templateOf('webhook').defaults.headers as Record<string, string>).authorization = 'x';
    expect(Value.Default(templateOf('webhook').configSchema, {})).toEqual({
      headers: {},
      batchSize: 1,
      timeoutMs: 10_000,
    });
    delete (templateOf('webhook').defaults.headers as Record<string, string>).authorization;
  });

  test.each([
    ['webhook', { url: 'https://hooks.example.com/in' }, { host: 'hooks.example.com', port: 443, field: 'url' }],
    ['slack', { slackApiUrl: 'http://127.0.0.1:8099/api/' }, { host: '127.0.0.1', port: 8099, field: 'slackApiUrl' }],
    [
      'database',
      { connectionString: 'postgres://u:p@db.example/x' },
      { host: 'db.example', port: 5432, field: 'connectionString' },
    ],
    ['database', { connectionString: 'mariadb://u:p@[::1]/x' }, { host: '::1', port: 3306, field: 'connectionString' }],
    [
      'email',
      { smtp: { host: 'smtp.example.com', port: 587 } },
      { host: 'smtp.example.com', port: 587, field: 'smtp.host' },
    ],
    ['s3', { endpoint: 'http://127.0.0.1:9090' }, { host: '127.0.0.1', port: 9090, field: 'endpoint' }],
    ['s3', { bucket: 'on-aws' }, undefined],
    ['prometheus', { host: '0.0.0.0', port: 9464 }, undefined],
    [
      'prometheus',
      { pushgateway: { url: 'http://push.example:9091' } },
      { host: 'push.example', port: 9091, field: 'pushgateway.url' },
    ],
    ['file', { path: 'events.jsonl' }, undefined],
  ] as const)('%s names the peer its config reaches: %j', (type, config, expected) => {
    expect(templateOf(type).endpoint(config)).toEqual(expected);
  });
});

describe('template secrets and checks', () => {
  test.each(destinationTemplates.map((template) => [template.type, template] as const))(
    '%s: secrets are top-level config fields',
    (_type, template) => {
      const properties = (template.configSchema as unknown as { properties: Record<string, unknown> }).properties;
      for (const field of template.secrets) expect(properties).toHaveProperty(field);
    },
  );

  test('the check reports an invalid configuration as a failed config step', async () => {
    const steps = await templateOf('webhook').check!(
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
    const steps = await templateOf('webhook').check!(
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
    expect(templateOf('prometheus').check).toBeUndefined();
  });
});
