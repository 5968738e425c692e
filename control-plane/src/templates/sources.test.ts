import { tmpdir } from 'node:os';
import { createLogger, ForbiddenDatabases } from '@muxly/common';
import { TemplateCatalog } from './catalog.ts';
import { loadTemplates, normalizeTemplate } from './sources.ts';

const logger = createLogger({ service: 'test', silent: true });

describe('templates from the router and ingest', () => {
  it('lists every shipped destination and connector type and compiles their schemas', async () => {
    const templates = await loadTemplates(logger);
    const catalog = new TemplateCatalog(templates);
    const keys = catalog.list().map((t) => `${t.kind}/${t.type}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        'destination/file',
        'destination/webhook',
        'destination/database',
        'connector/hubspot',
        'connector/custom',
      ]),
    );
  });

  it('keeps secret fields out of the stored config, even when nested', async () => {
    const catalog = new TemplateCatalog(await loadTemplates(logger));
    expect(catalog.get('destination', 'database')?.secrets).toContain('connectionString');
    expect(catalog.get('destination', 'email')?.secrets).toContain('smtp');
    // A database destination from its required fields: the connection string travels as a credential.
    const config = catalog.validate(
      'destination',
      'database',
      { table: 'events', columns: { name: '$.name' } },
      { connectionString: 'postgres://u:p@h/db' },
    );
    expect(config).not.toHaveProperty('connectionString');
    expect(config).toMatchObject({ idColumn: 'id', table: 'events' });
    expect(() =>
      catalog.validate(
        'destination',
        'database',
        { table: 'events', columns: { name: '$.name' }, connectionString: 'postgres://x' },
        null,
      ),
    ).toThrow(/not valid/);
  });

  it('adds the configured connector plugins, without the ones that fail to load', async () => {
    const catalog = new TemplateCatalog(
      await loadTemplates(logger, {
        connectorPlugins: ['./ingest/plugins/example-connector', './ingest/src/connectors/plugins/testing/wrong-shape'],
        baseDirectory: process.cwd(),
      }),
    );
    const plugin = catalog.get('connector', 'example-heartbeat')!;
    expect(plugin).toMatchObject({
      kind: 'connector',
      defaults: { intervalSeconds: 60, name: 'example.heartbeat' },
      required: [],
    });
    expect(catalog.list('connector').map((template) => template.type)).toEqual([
      'bigquery',
      'ga4',
      'hubspot',
      'custom',
      'example-heartbeat',
    ]);
    // The API validates a plugin connector's config like a built-in's: unknown fields are errors.
    expect(catalog.validate('connector', 'example-heartbeat', { intervalSeconds: 3600 }, null)).toMatchObject({
      intervalSeconds: 3600,
      service: 'example',
    });
    expect(() => catalog.validate('connector', 'example-heartbeat', { colour: 'red' }, null)).toThrow(/not valid/);
    // Its connection test is the plugin's own check.
    const steps = await plugin.check!(
      { intervalSeconds: 3600 },
      {
        signal: AbortSignal.timeout(5_000),
        credentials: null,
        allowAddresses: [],
        outbound: { fileBaseDirectory: tmpdir(), allowAddresses: [] },
        forbiddenDatabases: new ForbiddenDatabases([]),
      },
    );
    expect(steps).toEqual([
      expect.objectContaining({ name: 'config', status: 'ok' }),
      expect.objectContaining({ name: 'configuration', status: 'ok', detail: 'one example.heartbeat every 3600s' }),
    ]);
  });

  it('fills defaults, required and secrets a package left out', () => {
    const template = normalizeTemplate(
      {
        type: 'thing',
        configSchema: {
          type: 'object',
          required: ['url'],
          properties: {
            url: { type: 'string' },
            retries: { type: 'integer', default: 3 },
            apiKey: { type: 'string' },
            key: { type: 'string', writeOnly: true },
          },
        },
      },
      'destination',
    );
    expect(template).toMatchObject({ kind: 'destination', defaults: { retries: 3 }, required: ['url'] });
    expect(template.secrets?.sort()).toEqual(['apiKey', 'key']);
  });
});
