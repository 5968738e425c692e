import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createKafka, createLogger } from '@muxly/common';
import { postMetrics, startPipeline, type TestPipeline } from '../support/pipeline.ts';
import { freePort, requireLocalStack, ROOT, stopAllStartedProcesses, waitFor } from '../support/services.ts';

// Managed Kafka services (MSK, Confluent Cloud, Google's) take clients over TLS with SASL. A
// PRIVATE broker of the local stack gets a second listener, SASL_SSL with SCRAM users and a
// self-signed certificate (stack.sh, MUXLY_KAFKA_SASL_SSL_PORT), and the services reach it only
// through that listener, with certificate verification against the broker's CA file.

const run = promisify(execFile);
const privateDir = mkdtempSync(join(tmpdir(), 'muxly-sasl-'));
const password = 'e2e-scram-password';
let ports = { plaintext: 0, controller: 0, saslSsl: 0 };
let pipeline: TestPipeline;

const stack = (...args: string[]) =>
  run('bash', [`${ROOT}/deploy/local/stack.sh`, ...args], {
    cwd: ROOT,
    timeout: 180_000,
    env: {
      ...process.env,
      MUXLY_LOCAL_DIR: privateDir,
      MUXLY_KAFKA_PORT: String(ports.plaintext),
      MUXLY_KAFKA_CONTROLLER_PORT: String(ports.controller),
      MUXLY_KAFKA_SASL_SSL_PORT: String(ports.saslSsl),
      MUXLY_KAFKA_SCRAM_PASSWORD: password,
    },
  });

const kafkaSettings = (secret: string) => ({
  brokers: [`127.0.0.1:${ports.saslSsl}`],
  ssl: true,
  sslCaFile: join(privateDir, 'kafka', 'tls', 'ca.pem'),
  sasl: { mechanism: 'scram-sha-512' as const, username: 'muxly', password: secret },
});

beforeAll(async () => {
  // The schema registry of the shared stack is used as it is (it is an HTTP service).
  await requireLocalStack();
  ports = { plaintext: await freePort(), controller: await freePort(), saslSsl: await freePort() };
  await stack('start', 'kafka');
}, 240_000);

afterAll(async () => {
  await stopAllStartedProcesses();
  try {
    await stack('stop', 'kafka');
  } finally {
    rmSync(privateDir, { recursive: true, force: true });
  }
}, 120_000);

test('a wrong SCRAM password is refused by the TLS listener', async () => {
  const kafka = createKafka(
    {
      ...kafkaSettings('not-the-password'),
      clientId: 'sasl-refused',
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 10_000,
    },
    createLogger({ service: 'test', level: 'error' }),
  );
  const admin = kafka.admin();
  await expect(admin.connect()).rejects.toThrow(/SASL|authentic/i);
  await admin.disconnect();
});

test('ingest, transformer and router move a metric end to end over SASL/SCRAM with TLS', async () => {
  pipeline = await startPipeline({ kafka: kafkaSettings(password) });
  const response = await postMetrics(pipeline, { name: 'sasl.checkout', value: 3, dimensions: { plan: 'pro' } });
  expect(response.status).toBe(202);
  const { ids } = (await response.json()) as { ids: string[] };
  await waitFor('the metric in the file destination', async () => pipeline.deliveredIds().get(ids[0]!) === 1, 60_000);

  // It went through the private broker: its events topic holds the event.
  const kafka = createKafka(
    { ...kafkaSettings(password), clientId: 'sasl-check', connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 },
    createLogger({ service: 'test', level: 'error' }),
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(`${pipeline.prefix}events`);
    expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBeGreaterThan(0);
  } finally {
    await admin.disconnect();
  }
}, 180_000);
