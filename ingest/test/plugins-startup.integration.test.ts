import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { SecretKeyring } from '@muxly/common';
import type { JobResult, RawEnvelope, RunCommand } from '@muxly/schemas';
import {
  freePort,
  KAFKA_BROKER,
  requireLocalStack,
  ServiceProcess,
  stopAllStartedProcesses,
  uniqueName,
  waitFor,
} from '../../test/support/services.ts';
import { deleteTopicsWithPrefix } from '../../test/support/kafka.ts';

// The real ingest process, started as `npm start` starts it, with connector plugins in its
// settings: the example plugin, one that throws at import and one that exports the wrong shape.
// It must start, say clearly which plugins it left out and why, run syncs of the plugin that
// loaded, and apply its outbound allow-list (outbound.allowAddresses; production mode, so loopback is not allowed
// as a whole) to the custom HTTP
// connector: the listed address is reached, another loopback address is refused.

const KEY = { id: 'startup-1', key: randomBytes(32).toString('base64') };
const keyring = new SecretKeyring({ keys: [KEY] });

let ingest: ServiceProcess;
let api: Server;
let apiPort: number;
let kafka: Kafka;
let producer: Producer;
let reader: Consumer;
let prefix: string;
const results: JobResult[] = [];
const raw: RawEnvelope[] = [];
const apiRequests: string[] = [];

interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}
const logLines = (): LogLine[] =>
  ingest
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        return { level: '?', message: line };
      }
    });

beforeAll(async () => {
  await requireLocalStack();
  api = createServer((request, response) => {
    apiRequests.push(request.url ?? '');
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ data: [{ id: 'a' }, { id: 'b' }] }));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiPort = (api.address() as AddressInfo).port;

  prefix = `${uniqueName('test-plugins-')}.`;
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'muxly-plugins-'));
  const settings = {
    mode: 'production',
    log: { level: 'info' },
    outbound: { allowAddresses: ['127.0.0.1/32'] },
    kafka: { brokers: [KAFKA_BROKER] },
    topics: { prefix, partitions: 1 },
    controlPlane: { secrets: { keys: [KEY] } },
    ingest: {
      http: { port },
      jobs: {
        // Relative to the working directory (the repository root, as `npm start` runs it).
        plugins: [
          './ingest/plugins/example-connector',
          './ingest/src/connectors/plugins/testing/throws-at-import',
          './ingest/src/connectors/plugins/testing/wrong-shape',
        ],
        progressIntervalMs: 0,
        httpTimeoutMs: 5_000,
      },
    },
  };
  const configFile = join(directory, 'muxly.json');
  writeFileSync(configFile, JSON.stringify(settings));
  ingest = new ServiceProcess('ingest', { MUXLY_CONFIG: configFile }).start();
  await ingest.waitUntilReady(`http://127.0.0.1:${port}/readyz`);

  kafka = new Kafka({ brokers: [KAFKA_BROKER], logLevel: logLevel.NOTHING });
  producer = kafka.producer();
  await producer.connect();
  reader = kafka.consumer({ groupId: `${prefix}reader` });
  await reader.connect();
  await reader.subscribe({ topics: [`${prefix}raw`, `${prefix}job-results`], fromBeginning: true });
  await reader.run({
    eachMessage: async ({ topic, message }) => {
      const value = JSON.parse(message.value!.toString());
      if (topic === `${prefix}raw`) raw.push(value as RawEnvelope);
      else results.push(value as JobResult);
    },
  });
});

afterAll(async () => {
  await reader?.disconnect();
  await producer?.disconnect();
  await stopAllStartedProcesses();
  api?.closeAllConnections();
  await new Promise((resolve) => api?.close(resolve));
  if (prefix) await deleteTopicsWithPrefix([KAFKA_BROKER], prefix).catch(() => undefined);
});

const run = (executionId: string, connector: RunCommand['connector']): RunCommand => ({
  commandVersion: 1,
  type: 'run',
  executionId,
  jobId: `job-${executionId}`,
  attempt: 1,
  action: 'sync',
  params: {},
  connector,
  cursor: null,
  deadline: new Date(Date.now() + 120_000).toISOString(),
  issuedAt: new Date().toISOString(),
});
const send = (command: RunCommand) =>
  producer.send({ topic: `${prefix}commands`, messages: [{ key: command.jobId, value: JSON.stringify(command) }] });
const finalResult = (executionId: string) =>
  waitFor(
    `the final result of ${executionId}`,
    async () =>
      results.find((result) => result.executionId === executionId && !['started', 'progress'].includes(result.type)),
    60_000,
  );

const customConnector = (id: string, host: string): RunCommand['connector'] => ({
  id,
  type: 'custom',
  config: {
    stream: 'items',
    url: `http://${host}:${apiPort}/items`,
    recordSelector: '$.data[*]',
    mapping: { name: 'item.seen', idPath: '$.id' },
    retry: { maxAttempts: 1 },
  },
  credentials: keyring.encrypt({}, `connector/${id}`) as unknown as Record<string, unknown>,
});

describe('ingest starts with connector plugins from its settings', () => {
  it('is ready, and says which plugins it left out and why', () => {
    const lines = logLines();
    const failed = lines.filter((line) => line.message === 'connector plugin failed to load; continuing without it');
    expect(failed.map((line) => [line.level, line.location])).toEqual([
      ['error', './ingest/src/connectors/plugins/testing/throws-at-import'],
      ['error', './ingest/src/connectors/plugins/testing/wrong-shape'],
    ]);
    expect(failed[0]!.error).toMatch(/plugin exploded at import/);
    expect(failed[1]!.error).toMatch(
      /not a connector plugin: .*read\(config, credentials, cursor, context\) must be a function/,
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'connector plugin loaded',
        location: './ingest/plugins/example-connector',
        connectorType: 'example-heartbeat',
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'connector types available',
        connectorTypes: ['bigquery', 'ga4', 'hubspot', 'custom', 'example-heartbeat'],
        pluginFailures: 2,
      }),
    );
  });

  it('runs a sync of the plugin that loaded, through the same job runner as the built-ins', async () => {
    const start = new Date(Date.now() - 3 * 86_400_000).toISOString();
    await send(
      run('exe-plugin', {
        id: 'heartbeats',
        type: 'example-heartbeat',
        config: { intervalSeconds: 86_400, start, service: 'billing' },
        credentials: null,
      }),
    );
    const result = await finalResult('exe-plugin');
    expect(result).toMatchObject({ type: 'succeeded', connectorId: 'heartbeats' });
    const records = raw
      .filter((envelope) => envelope.jobExecutionId === 'exe-plugin')
      .flatMap(
        (envelope) =>
          (envelope.payload as { records: { name: string; dimensions: Record<string, unknown> }[] }).records,
      );
    expect(records.length).toBeGreaterThanOrEqual(3);
    expect(result.counts).toMatchObject({ recordsPublished: records.length });
    expect(records[0]).toMatchObject({ name: 'example.heartbeat', dimensions: { service: 'billing' } });
    expect(raw.find((envelope) => envelope.jobExecutionId === 'exe-plugin')).toMatchObject({
      source: { type: 'example-heartbeat', id: 'heartbeats' },
    });
  });

  it('a connector of a plugin that failed to load fails its sync with a clear error; ingest carries on', async () => {
    await send(run('exe-broken', { id: 'broken', type: 'wrong-shape', config: {}, credentials: null }));
    const result = await finalResult('exe-broken');
    expect(result).toMatchObject({ type: 'failed', error: { errorClass: 'ConfigurationError', retryable: false } });
    expect(result.error?.message).toContain('wrong-shape');
  });

  it('the custom HTTP connector reaches what the allow-list names and is refused the rest', async () => {
    await send(run('exe-allowed', customConnector('allowed-api', '127.0.0.1')));
    expect(await finalResult('exe-allowed')).toMatchObject({ type: 'succeeded', counts: { recordsPublished: 2 } });
    expect(apiRequests).toEqual(['/items']);

    // 127.0.0.2 is loopback too (the whole 127.0.0.0/8 is), but the allow-list names 127.0.0.1 only.
    await send(run('exe-refused', customConnector('refused-api', '127.0.0.2')));
    const refused = await finalResult('exe-refused');
    expect(refused).toMatchObject({ type: 'failed', error: { errorClass: 'BlockedAddressError', retryable: false } });
    expect(refused.error?.message).toMatch(/127\.0\.0\.2 \(127\.0\.0\.2\) refused: private, loopback/);
    expect(apiRequests).toEqual(['/items']);
  });
});
