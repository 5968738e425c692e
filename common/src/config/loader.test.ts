import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { ConfigurationError } from '../errors.ts';
import { envNameToPath, loadConfig } from './loader.ts';
import { loadSettings } from './settings.ts';

const schema = Type.Object(
  {
    http: Type.Object(
      { port: Type.Integer({ default: 8080 }), host: Type.String({ default: '127.0.0.1' }) },
      { additionalProperties: false, default: {} },
    ),
    brokers: Type.Array(Type.String(), { default: ['a:1'] }),
    debug: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

const dir = mkdtempSync(join(tmpdir(), 'muxly-config-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

function problemsOf(action: () => unknown): readonly string[] {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigurationError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

test('zero configuration gives the defaults', () => {
  expect(loadConfig(schema, { env: {} })).toEqual({
    http: { port: 8080, host: '127.0.0.1' },
    brokers: ['a:1'],
    debug: false,
  });
});

test.each([
  ['yaml', 'c.yaml', 'http:\n  port: 9000\n'],
  ['json', 'c.json', '{"http":{"port":9000}}'],
  ['toml', 'c.toml', '[http]\nport = 9000\n'],
])('reads %s files', (_format, name, text) => {
  expect(loadConfig(schema, { file: file(name, text), env: {} }).http.port).toBe(9000);
});

test('environment variables override the file, with nesting, types and comma lists', () => {
  const config = loadConfig(schema, {
    file: file('o.yaml', 'http:\n  port: 9000\n'),
    env: { MUXLY_HTTP__PORT: '9100', MUXLY_BROKERS: 'k1:9092, k2:9092', MUXLY_DEBUG: 'true', PATH: '/bin' },
  });
  expect(config).toEqual({ http: { port: 9100, host: '127.0.0.1' }, brokers: ['k1:9092', 'k2:9092'], debug: true });
});

test('every problem is reported with its setting and where it came from', () => {
  const problems = problemsOf(() =>
    loadConfig(schema, {
      file: file('bad.yaml', 'http:\n  port: "eighty"\n  hots: x\n'),
      env: { MUXLY_DEBUG: 'maybe' },
    }),
  );
  expect(problems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^http\.port must be integer \(from file .*bad\.yaml\)$/),
      expect.stringMatching(/^http\.hots is not a known setting \(from file .*bad\.yaml\)$/),
      'debug must be boolean (from environment variable MUXLY_DEBUG)',
    ]),
  );
});

test('an unknown MUXLY_ variable is an error, not silently ignored', () => {
  expect(problemsOf(() => loadConfig(schema, { env: { MUXLY_HTTP__PROT: '1' } }))).toEqual([
    'http.prot is not a known setting (from environment variable MUXLY_HTTP__PROT)',
  ]);
});

test('unreadable and unparseable files are named', () => {
  expect(() => loadConfig(schema, { file: join(dir, 'missing.yaml'), env: {} })).toThrow(
    /Cannot read configuration file .*missing\.yaml/,
  );
  expect(() => loadConfig(schema, { file: file('broken.json', '{"http":'), env: {} })).toThrow(
    /Cannot parse configuration file .*broken\.json/,
  );
  expect(() => loadConfig(schema, { file: file('c.ini', 'x=1'), env: {} })).toThrow(/unsupported extension/);
});

test('env names map to camelCase paths', () => {
  expect(envNameToPath('MUXLY_KAFKA__CLIENT_ID')).toEqual(['kafka', 'clientId']);
  expect(envNameToPath('MUXLY_INGEST__HTTP__PORT')).toEqual(['ingest', 'http', 'port']);
});

test('the Muxly settings document works with zero configuration and validates the local config', () => {
  const settings = loadSettings({ env: {} });
  expect(settings.kafka.brokers).toEqual(['127.0.0.1:9092']);
  expect(settings.ingest.http.port).toBe(8080);
  const local = loadSettings({ env: {}, file: new URL('../../../config/local.yaml', import.meta.url).pathname });
  expect(local.pipeline.destinations[0]?.type).toBe('file');
});

test('kafka.sasl takes the fields of its mechanism, and names a missing or a misplaced one', () => {
  const oauth = loadSettings({
    env: {
      MUXLY_KAFKA__SASL__MECHANISM: 'oauthbearer',
      MUXLY_KAFKA__SASL__TOKEN_URL: 'https://idp.example/oauth2/token',
      MUXLY_KAFKA__SASL__CLIENT_ID: 'muxly',
      MUXLY_KAFKA__SASL__CLIENT_SECRET: 'from-the-secret-store',
    },
  });
  expect(oauth.kafka.sasl).toEqual({
    mechanism: 'oauthbearer',
    tokenUrl: 'https://idp.example/oauth2/token',
    clientId: 'muxly',
    clientSecret: 'from-the-secret-store',
  });
  expect(
    problemsOf(() =>
      loadSettings({
        env: {},
        overrides: {
          kafka: { sasl: { mechanism: 'oauthbearer', tokenUrl: 'https://idp.example/token', clientId: 'muxly' } },
        },
      }),
    ),
  ).toEqual(['kafka.sasl.clientSecret is required (from overrides)']);
  expect(
    problemsOf(() =>
      loadSettings({
        env: {},
        overrides: {
          kafka: { sasl: { mechanism: 'scram-sha-512', username: 'muxly', password: 'p', scope: 'kafka' } },
        },
      }),
    ),
  ).toEqual(['kafka.sasl.scope does not go with the other settings of its section (from overrides)']);
  expect(
    problemsOf(() =>
      loadSettings({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'muxly' } } } }),
    ),
  ).toEqual(['kafka.sasl.password is required (from overrides)']);
});

test('OTEL_EXPORTER_OTLP_ENDPOINT sets tracing.otlpEndpoint, a MUXLY_ variable wins, and a bad one is named', () => {
  expect(loadSettings({ env: {} }).tracing.otlpEndpoint).toBeUndefined();
  expect(loadSettings({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' } }).tracing.otlpEndpoint).toBe(
    'http://collector:4318',
  );
  expect(
    loadSettings({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', MUXLY_TRACING__OTLP_ENDPOINT: 'http://other:4318' },
    }).tracing.otlpEndpoint,
  ).toBe('http://other:4318');
  expect(problemsOf(() => loadSettings({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' } }))).toEqual([
    expect.stringMatching(
      /^tracing\.otlpEndpoint must match .*\(from environment variable OTEL_EXPORTER_OTLP_ENDPOINT\)$/,
    ),
  ]);
  // A schema without the setting ignores the variable.
  expect(loadConfig(schema, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' } }).debug).toBe(false);
});
