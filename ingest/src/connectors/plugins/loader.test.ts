import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpClient, createLogger, InvalidEventError } from '@muxly/common';
import { loadPlugins, validatePluginShape } from './loader.ts';
import { createConnectorRegistry } from '../registry.ts';
import { checkConnector, runSync, SyncFailedError } from '../sync.ts';
import type { ConnectorContext, ConnectorPage } from '../connector.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ingestDirectory = path.resolve(here, '../../..');
const log = createLogger({ service: 'test', silent: true });
const context: ConnectorContext = {
  connectorId: 'plugin-test',
  log,
  signal: new AbortController().signal,
  http: createHttpClient(),
  now: () => new Date('2026-03-01T03:00:00Z'),
  sleep: async () => {},
};
const sink = () => {
  const pages: ConnectorPage[] = [];
  return { pages, publish: async (page: ConnectorPage) => void pages.push(page) };
};

describe('loadPlugins', () => {
  it('loads the example plugin folder and isolates the broken ones', async () => {
    const { plugins, failures } = await loadPlugins(
      [
        './plugins/example-connector',
        './src/connectors/plugins/testing/throws-at-import',
        './src/connectors/plugins/testing/wrong-shape',
        './src/connectors/plugins/testing/throws-in-read',
        './does-not-exist',
      ],
      { baseDirectory: ingestDirectory, log },
    );
    expect(plugins.map((plugin) => plugin.type)).toEqual(['example-heartbeat', 'throws-in-read']);
    expect(failures.map((failure) => failure.location)).toEqual([
      './src/connectors/plugins/testing/throws-at-import',
      './src/connectors/plugins/testing/wrong-shape',
      './does-not-exist',
    ]);
    expect(failures[0]!.error).toMatch(/exploded at import/);
    expect(failures[1]!.error).toMatch(/read\(config, credentials, cursor, context\) must be a function/);
    expect(failures[1]!.error).toMatch(/additionalProperties: false/);
    expect(failures[2]!.error).toMatch(/does not exist/);

    const registry = createConnectorRegistry(plugins);
    expect(registry.types()).toEqual(['bigquery', 'ga4', 'hubspot', 'custom', 'example-heartbeat', 'throws-in-read']);
    const result = await runSync({
      connector: registry.get('example-heartbeat')!,
      config: { intervalSeconds: 3600, start: '2026-03-01T00:00:00Z' },
      credentials: undefined,
      cursor: null,
      sink: sink(),
      context,
    });
    expect(result.records).toBe(4);
  });

  it('a plugin that throws in read fails its sync with the last good cursor, and a throwing check is a failed step', async () => {
    const { plugins } = await loadPlugins(['./src/connectors/plugins/testing/throws-in-read'], {
      baseDirectory: ingestDirectory,
      log,
    });
    const plugin = plugins[0]!;
    const error = (await runSync({
      connector: plugin,
      config: {},
      credentials: undefined,
      cursor: null,
      sink: sink(),
      context,
    }).catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error).toBeInstanceOf(SyncFailedError);
    expect(error.message).toMatch(/plugin throws-in-read: lost connection in plugin/);
    expect(error.progress).toMatchObject({ pages: 1, records: 1, cursor: { page: 1 } });
    const check = await checkConnector(plugin, {}, undefined, context);
    expect(check).toMatchObject({ ok: false });
    expect(check.steps.at(-1)!.message).toMatch(/check blew up/);
    // A plain JSON Schema config is still validated: unknown fields are errors.
    await expect(
      runSync({ connector: plugin, config: { extra: 1 }, credentials: undefined, cursor: null, sink: sink(), context }),
    ).rejects.toThrow(/invalid throws-in-read connector config/);
  });

  it('refuses pages whose records break the contract', async () => {
    const { plugins } = await loadPlugins(['./src/connectors/plugins/testing/bad-records'], {
      baseDirectory: ingestDirectory,
      log,
    });
    const error = (await runSync({
      connector: plugins[0]!,
      config: {},
      credentials: undefined,
      cursor: null,
      sink: sink(),
      context,
    }).catch((caught: unknown) => caught)) as SyncFailedError;
    expect(error.cause).toBeInstanceOf(InvalidEventError);
    expect(error.message).toMatch(/invalid record at index 0/);
  });

  it('gives up on a plugin whose import never finishes, and loads the others', async () => {
    const { plugins, failures } = await loadPlugins(
      ['./src/connectors/plugins/testing/hangs-at-import', './plugins/example-connector'],
      { baseDirectory: ingestDirectory, log, importTimeoutMs: 300 },
    );
    expect(plugins.map((plugin) => plugin.type)).toEqual(['example-heartbeat']);
    expect(failures).toEqual([
      {
        location: './src/connectors/plugins/testing/hangs-at-import',
        error: 'its import did not finish within 300 ms',
      },
    ]);
  });

  it('does not let a plugin take a built-in type', () => {
    expect(
      validatePluginShape({
        type: 'hubspot',
        description: '',
        configSchema: { type: 'object', additionalProperties: false },
        check() {},
        read() {},
      }),
    ).toEqual(['type "hubspot" is a built-in connector type']);
  });
});
