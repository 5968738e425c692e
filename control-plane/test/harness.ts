import { randomBytes } from 'node:crypto';
import { createLogger, loadSettings, topicNames, type MuxlySettings } from '@muxly/common';
import type { Authorizer } from '../src/app.ts';
import { startControlPlane, type RunningControlPlane } from '../src/service.ts';
import type { PluginTemplate } from '../src/templates/catalog.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { deleteTopicsWithPrefix } from '../../test/support/kafka.ts';
import { callApi, type ApiAnswer } from '../../test/support/api.ts';

// Starts a real control plane for a test file: a fresh PostgreSQL database, real Kafka with
// topics under a random prefix, responses checked against the OpenAPI document.

export const TEST_KEY = { id: 'test-1', key: randomBytes(32).toString('base64') };

/** Templates in the shapes the router (secrets inside the config) and ingest (separate credentials schema) publish. */
export const testTemplates: PluginTemplate[] = [
  {
    kind: 'destination',
    type: 'webhook',
    description: 'POSTs batches of events to a URL.',
    configSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'signingSecret'],
      properties: {
        url: { type: 'string', pattern: '^https?://' },
        timeoutMs: { type: 'integer', minimum: 100, default: 5000 },
        signingSecret: { type: 'string', minLength: 8 },
      },
    },
    defaults: { timeoutMs: 5000 },
    required: ['url', 'signingSecret'],
    secrets: ['signingSecret'],
  },
  {
    kind: 'destination',
    type: 'file',
    description: 'Appends events to a file.',
    configSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: { path: { type: 'string', minLength: 1 }, format: { enum: ['jsonl', 'csv'], default: 'jsonl' } },
    },
    defaults: { format: 'jsonl' },
    required: ['path'],
  },
  {
    kind: 'connector',
    type: 'custom',
    description: 'Any HTTP JSON API.',
    configSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['baseUrl'],
      properties: { baseUrl: { type: 'string' }, pageSize: { type: 'integer', default: 100 } },
    },
    credentialsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { token: { type: 'string', minLength: 1 } },
    },
    defaults: { pageSize: 100 },
    required: ['baseUrl'],
    async check(config, options) {
      return [
        {
          name: 'authenticate',
          status: options.credentials?.token === 'good' ? 'ok' : 'failed',
          detail: `token checked against ${String(config.baseUrl)}`,
          durationMs: 0,
        },
      ];
    },
  },
];

const allowEverything: Authorizer = () => undefined;

export interface Harness {
  service: RunningControlPlane;
  settings: MuxlySettings;
  database: TestDatabase;
  baseUrl: string;
  configTopic: string;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  close(): Promise<void>;
}

export type { ApiAnswer };

export interface HarnessOptions {
  /** Extra controlPlane settings. */
  controlPlane?: Record<string, unknown>;
  /** The declarative seed (settings `pipeline` section). */
  pipeline?: unknown;
  /** Other top-level settings sections. */
  settings?: Record<string, unknown>;
  /** Defaults to allowing every operation (these tests are not about access control; control-plane/test/auth/ is). */
  authorize?: Authorizer;
  /** Defaults to testTemplates. */
  templates?: PluginTemplate[];
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const database = await createTestDatabase();
  const prefix = `test.cp.${randomBytes(4).toString('hex')}.`;
  const settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      topics: { prefix, partitions: 1 },
      kafka: { connectionTimeoutMs: 2000 },
      controlPlane: {
        http: { port: 0 },
        database: { url: database.url, poolMax: 4 },
        secrets: { keys: [TEST_KEY] },
        ...options.controlPlane,
      },
      ...(options.pipeline ? { pipeline: options.pipeline } : {}),
      ...options.settings,
    },
  });
  const logger = createLogger({ service: 'control-plane-test', level: 'error', silent: true });
  let service: RunningControlPlane;
  try {
    service = await startControlPlane({
      settings,
      logger,
      templates: options.templates ?? testTemplates,
      validateResponses: true,
      authorize: options.authorize ?? allowEverything,
    });
  } catch (error) {
    await deleteTopicsWithPrefix(settings.kafka.brokers, prefix).catch(() => undefined);
    await database.drop();
    throw new Error(
      `the control plane did not start: ${(error as Error).message}\n(if Kafka or PostgreSQL is not running, start the stack with: npm run stack:start)`,
    );
  }
  const baseUrl = `http://127.0.0.1:${service.port}`;
  return {
    service,
    settings,
    database,
    baseUrl,
    configTopic: topicNames(prefix).config,
    api: (method, path, body, headers = {}) => callApi(baseUrl, method, path, { body, headers }),
    async close() {
      await service.stop();
      await deleteTopicsWithPrefix(settings.kafka.brokers, prefix);
      await database.drop();
    },
  };
}

/** Asserts an RFC 9457 answer with the given status and returns its body. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read answers freely
export function expectProblem(answer: ApiAnswer, status: number): any {
  if (answer.status !== status)
    throw new Error(`expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  if (!answer.headers.get('content-type')?.startsWith('application/problem+json'))
    throw new Error(`not problem+json: ${answer.headers.get('content-type')}`);
  if (typeof answer.body?.type !== 'string' || answer.body.status !== status || typeof answer.body.title !== 'string')
    throw new Error(`not a problem: ${JSON.stringify(answer.body)}`);
  if (JSON.stringify(answer.body).includes('    at ')) throw new Error('a stack trace leaked into a problem');
  return answer.body;
}
