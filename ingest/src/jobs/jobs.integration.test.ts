import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import {
  createKafka,
  createLogger,
  createTracing,
  ensureTopics,
  KafkaProducer,
  loadSettings,
  SecretKeyring,
  topicNames,
  topicSpecs,
  type TopicNames,
  type Tracing,
} from '@muxly/common';
import type { JobCommand, JobResult, RawEnvelope, RunCommand } from '@muxly/schemas';
import { OtlpReceiver } from '../../../test/support/otlp-receiver.ts';
import { contact, startFakeHubSpot } from '../connectors/hubspot/hubspot.fake.ts';
import { startJobs, type RunningJobs } from './commands.consumer.ts';
import { deleteTopicsAndGroups } from '../../../test/support/kafka.ts';
import { waitFor } from '../../../test/support/services.ts';

// The job runner through real Kafka: run and cancel commands in, connector.records.v1 envelopes
// and job results out, against a local JSON API (loopback allowed by outbound.allowAddresses).

const TOKEN = 'api-token-0123456789';
const KEY = { id: 'k1', key: randomBytes(32).toString('base64') };
const items = Array.from({ length: 7 }, (_, index) => ({
  id: `i${index + 1}`,
  updated_at: `2026-02-0${index + 1}T00:00:00Z`,
}));
const held: ServerResponse[] = [];
const authorizations: string[] = [];

function handle(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://localhost');
  authorizations.push(request.headers.authorization ?? '');
  const page = Number(url.searchParams.get('page') ?? 1);
  // /stuck answers its first page, then never again (until the test ends).
  if (url.pathname === '/stuck' && page > 1) return void held.push(response);
  response
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ data: items.slice((page - 1) * 3, page * 3) }));
}

let api: Server;
let apiUrl: string;
let kafka: Kafka;
let topics: TopicNames;
let brokers: string[] = [];
let producer: KafkaProducer;
let jobs: RunningJobs;
let reader: Consumer;
const results: JobResult[] = [];
const raw: RawEnvelope[] = [];
/** The traceparent header of each raw record, by its execution id. */
const rawTraceparents: { executionId: string | undefined; traceparent: string | undefined }[] = [];
const collector = new OtlpReceiver();
let tracing: Tracing;

beforeAll(async () => {
  api = createServer(handle);
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  const otlpEndpoint = await collector.start();
  const prefix = `test.jobs.${randomBytes(4).toString('hex')}.`;
  const settings = loadSettings({
    env: {},
    overrides: {
      topics: { prefix, partitions: 1 },
      kafka: { connectionTimeoutMs: 2_000 },
      ingest: {
        jobs: { recordsPerMessage: 2, progressIntervalMs: 0, httpTimeoutMs: 5_000 },
      },
      controlPlane: { secrets: { keys: [KEY] } },
      tracing: { otlpEndpoint },
    },
  });
  const logger = createLogger({ service: 'ingest-test', silent: true });
  brokers = settings.kafka.brokers;
  kafka = createKafka(settings.kafka, logger);
  topics = topicNames(prefix);
  try {
    await ensureTopics(kafka, topicSpecs(topics, settings.topics));
  } catch (error) {
    throw new Error(`Kafka is not reachable (${(error as Error).message}); start the local stack: npm run stack:start`);
  }
  producer = new KafkaProducer(kafka);
  await producer.connect();
  tracing = createTracing(settings.tracing, 'ingest', logger);
  jobs = await startJobs({ kafka, producer, settings, logger, tracing });
  reader = kafka.consumer({ groupId: `${prefix}reader` });
  await reader.connect();
  await reader.subscribe({ topics: [topics.raw, topics.jobResults], fromBeginning: true });
  await reader.run({
    eachMessage: async ({ topic, message }) => {
      const value = JSON.parse(message.value!.toString());
      if (topic === topics.raw) {
        raw.push(value as RawEnvelope);
        rawTraceparents.push({
          executionId: (value as RawEnvelope).jobExecutionId,
          traceparent: message.headers?.traceparent?.toString(),
        });
      } else results.push(value as JobResult);
    },
  });
});

afterAll(async () => {
  for (const response of held) response.destroy();
  await reader?.disconnect();
  await jobs?.stop();
  await tracing?.shutdown();
  await collector.stop();
  await producer?.disconnect();
  if (api) {
    api.closeAllConnections();
    await new Promise((resolve) => api.close(resolve));
  }
  if (!kafka) return;
  await deleteTopicsAndGroups(brokers, { topics: Object.values(topics) });
});

const keyring = new SecretKeyring({ keys: [KEY] });
const run = (executionId: string, path: string, overrides: Partial<RunCommand> = {}): RunCommand => ({
  commandVersion: 1,
  type: 'run',
  executionId,
  jobId: 'job-1',
  attempt: 1,
  action: 'sync',
  params: {},
  connector: {
    id: 'api',
    type: 'custom',
    config: {
      stream: 'items',
      url: `${apiUrl}${path}`,
      auth: { type: 'bearer' },
      pagination: { type: 'page', param: 'page', startPage: 1, size: 3 },
      recordSelector: '$.data[*]',
      cursorPath: '$.updated_at',
      mapping: { kind: 'record', name: 'item.updated', idPath: '$.id' },
      retry: { maxAttempts: 1 },
    },
    credentials: keyring.encrypt({ token: TOKEN }, 'connector/api') as unknown as Record<string, unknown>,
  },
  cursor: null,
  deadline: new Date(Date.now() + 60_000).toISOString(),
  issuedAt: new Date().toISOString(),
  ...overrides,
});
const send = (command: JobCommand) =>
  producer.send([{ topic: topics.commands, key: command.jobId, value: JSON.stringify(command) }]);
const until = <T>(what: string, probe: () => T | undefined, timeoutMs = 20_000) => waitFor(what, probe, timeoutMs, 100);
const final = (executionId: string) =>
  until(`the final result of ${executionId}`, () =>
    results.find((result) => result.executionId === executionId && !['started', 'progress'].includes(result.type)),
  );

test('a run publishes connector.records.v1 envelopes, reports progress and the result with the cursor', async () => {
  await send(run('exe-ok', '/items'));
  const result = await final('exe-ok');
  expect(result).toMatchObject({
    type: 'succeeded',
    jobId: 'job-1',
    connectorId: 'api',
    attempt: 1,
    progress: { pages: 3, records: 7, cursor: { value: '2026-02-07T00:00:00Z' } },
    counts: { recordsRead: 7, recordsPublished: 7, pages: 3, streams: { items: 7 } },
  });
  const mine = results.filter((item) => item.executionId === 'exe-ok').map((item) => item.type);
  expect(mine).toEqual(['started', 'progress', 'progress', 'progress', 'succeeded']);
  expect(authorizations).toContain(`Bearer ${TOKEN}`);
  // 3 + 3 + 1 records at most 2 per message: 5 envelopes, awaited before the result.
  const envelopes = raw.filter((envelope) => envelope.jobExecutionId === 'exe-ok');
  expect(envelopes).toHaveLength(5);
  expect(envelopes[0]).toMatchObject({
    envelopeVersion: 1,
    format: 'connector.records.v1',
    source: { type: 'custom', id: 'api' },
    connectorId: 'api',
    payload: { stream: 'items' },
  });
  const records = envelopes.flatMap(
    (envelope) => (envelope.payload as { records: { attributes: { id: string } }[] }).records,
  );
  expect(records).toHaveLength(7);

  // The run is a trace of its own: every record carries its sync span, which starts the trace.
  const traceparents = new Set(
    rawTraceparents.filter((item) => item.executionId === 'exe-ok').map((item) => item.traceparent),
  );
  expect(traceparents.size).toBe(1);
  const [traceparent] = [...traceparents];
  expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  const [, traceId, spanId] = traceparent!.split('-');
  const span = await until('the sync span at the collector', () =>
    collector.spans.find((item) => item.traceId === traceId && item.spanId === spanId),
  );
  expect(span).toMatchObject({ service: 'muxly-ingest', name: 'sync custom', parentSpanId: undefined, statusCode: 0 });
  expect(span.attributes).toMatchObject({
    'muxly.execution.id': 'exe-ok',
    'muxly.connector.id': 'api',
    'muxly.records.published': 7,
  });
});

test('a cancel stops a sync mid-way; the result keeps the cursor of what was published', async () => {
  await send(run('exe-stuck', '/stuck'));
  await until('the first page', () =>
    results.find((result) => result.executionId === 'exe-stuck' && result.type === 'progress'),
  );
  await send({
    commandVersion: 1,
    type: 'cancel',
    executionId: 'exe-stuck',
    jobId: 'job-1',
    reason: 'cancelled',
    issuedAt: new Date().toISOString(),
  });
  const result = await final('exe-stuck');
  expect(result).toMatchObject({
    type: 'cancelled',
    progress: { pages: 1, records: 3, cursor: { value: '2026-02-03T00:00:00Z' } },
    counts: { recordsPublished: 3 },
    error: { errorClass: 'Cancelled', retryable: false },
  });
});

test('a sync still running at its deadline is stopped by ingest itself and reported timed out', async () => {
  await send(run('exe-late', '/stuck', { deadline: new Date(Date.now() + 2_500).toISOString() }));
  const result = await final('exe-late');
  expect(result).toMatchObject({
    type: 'timed_out',
    progress: { pages: 1, records: 3 },
    error: { errorClass: 'Timeout', retryable: true },
  });
});

test('failures are reported with whether a retry can help; expired and repeated commands do not run', async () => {
  await send(run('exe-expired', '/items', { deadline: new Date(Date.now() - 1_000).toISOString() }));
  await send(
    run('exe-unknown', '/items', { connector: { ...run('x', '/items').connector, type: 'no-such-connector' } }),
  );
  await send(
    run('exe-bad-config', '/items', { connector: { ...run('x', '/items').connector, config: { url: 'not a url' } } }),
  );
  expect(await final('exe-unknown')).toMatchObject({
    type: 'failed',
    error: { errorClass: 'ConfigurationError', retryable: false },
  });
  expect((await final('exe-unknown')).error?.message).toContain('no-such-connector');
  expect(await final('exe-bad-config')).toMatchObject({ type: 'failed', error: { retryable: false } });
  // Sent again: already handled, nothing new.
  await send(run('exe-ok', '/items'));
  await send(run('exe-after', '/items'));
  await final('exe-after');
  expect(results.filter((result) => result.executionId === 'exe-expired')).toEqual([]);
  expect(results.filter((result) => result.executionId === 'exe-ok' && result.type === 'succeeded')).toHaveLength(1);
});

test('a refresh token the provider rotates goes back to the control plane encrypted; a revoked one fails without retry', async () => {
  const client = { clientId: 'public-app', clientSecret: 'app-secret-42' };
  const hubspot = await startFakeHubSpot(
    { contacts: [contact(1, '2026-03-01T10:00:00.000Z', 'a@example.com')] },
    { tokenEndpoint: { style: 'hubspot', clients: [client], refreshTokens: ['rt-first'], rotateRefreshTokens: true } },
  );
  try {
    const hubspotRun = (executionId: string, refreshToken: string) =>
      run(executionId, '/items', {
        connector: {
          id: 'crm',
          type: 'hubspot',
          config: { objectType: 'contacts', apiBaseUrl: hubspot.url, retry: { maxAttempts: 1 } },
          credentials: keyring.encrypt({ ...client, refreshToken }, 'connector/crm') as unknown as Record<
            string,
            unknown
          >,
        },
      });
    await send(hubspotRun('exe-rotate', 'rt-first'));
    expect(await final('exe-rotate')).toMatchObject({ type: 'succeeded', counts: { recordsPublished: 1 } });
    const mine = results.filter((result) => result.executionId === 'exe-rotate');
    const rotated = mine.filter((result) => result.credentials !== undefined);
    expect(rotated).toHaveLength(1);
    expect(rotated[0]!.type).toBe('progress');
    const stored = keyring.decrypt(rotated[0]!.credentials!, 'connector/crm');
    expect(stored).toEqual({ ...client, refreshToken: [...hubspot.tokens!.refreshTokens][0] });
    expect(hubspot.tokens!.refreshTokens.has('rt-first')).toBe(false);
    // Nothing on the topic carries a secret in clear.
    const onTheWire = JSON.stringify(mine);
    for (const secret of [client.clientSecret, 'rt-first', (stored as { refreshToken: string }).refreshToken])
      expect(onTheWire).not.toContain(secret);

    await send(hubspotRun('exe-revoked', 'rt-revoked'));
    const failed = await final('exe-revoked');
    expect(failed).toMatchObject({ type: 'failed', error: { errorClass: 'ConfigurationError', retryable: false } });
    expect(failed.error!.message).toMatch(/BAD_REFRESH_TOKEN.*authorize the app again/);
    expect(failed.error!.message).not.toContain('rt-revoked');
  } finally {
    await hubspot.close();
  }
});
