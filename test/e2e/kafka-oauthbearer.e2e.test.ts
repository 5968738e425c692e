import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createKafka, createLogger, type KafkaSettings } from '@muxly/common';
import { postMetrics, startPipeline, type TestPipeline } from '../support/pipeline.ts';
import { freePort, requireLocalStack, ROOT, stopAllStartedProcesses, waitFor } from '../support/services.ts';

// Managed Kafka services and Kafka clusters behind a company's identity provider take clients with
// SASL/OAUTHBEARER. A PRIVATE broker (stack.sh, its SASL_SSL listener with MUXLY_KAFKA_OAUTH_*)
// validates JWTs with Kafka's own OIDC validator against the keys of a throw-away realm of the
// local Keycloak; Muxly gets its tokens from that realm with the client credentials grant.

const KEYCLOAK_URL = 'http://127.0.0.1:8180';
const realm = `muxly-kafka-${randomBytes(4).toString('hex')}`;
const issuer = `${KEYCLOAK_URL}/realms/${realm}`;
const tokenUrl = `${issuer}/protocol/openid-connect/token`;
const audience = 'muxly-kafka-broker';
const clientSecret = randomBytes(18).toString('base64url');

const run = promisify(execFile);
const privateDir = mkdtempSync(join(tmpdir(), 'muxly-oauth-'));
let ports = { plaintext: 0, controller: 0, saslSsl: 0 };
let adminToken = '';
let pipeline: TestPipeline | undefined;

async function keycloakAdmin(method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${KEYCLOAK_URL}/admin/realms${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`Keycloak admin ${method} ${path}: ${response.status} ${await response.text()}`);
}

// A confidential client with a service account (the client credentials grant). Kafka's validator
// checks the audience, so the broker's tokens carry it through an audience mapper.
const serviceClient = (clientId: string, withAudience: boolean) => ({
  clientId,
  enabled: true,
  publicClient: false,
  secret: clientSecret,
  serviceAccountsEnabled: true,
  standardFlowEnabled: false,
  directAccessGrantsEnabled: false,
  protocolMappers: withAudience
    ? [
        {
          name: 'kafka-audience',
          protocol: 'openid-connect',
          protocolMapper: 'oidc-audience-mapper',
          config: { 'included.custom.audience': audience, 'access.token.claim': 'true', 'id.token.claim': 'false' },
        },
      ]
    : [],
});

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
      MUXLY_KAFKA_OAUTH_JWKS_URL: `${issuer}/protocol/openid-connect/certs`,
      MUXLY_KAFKA_OAUTH_ISSUER: issuer,
      MUXLY_KAFKA_OAUTH_AUDIENCE: audience,
    },
  });

const kafkaSettings = (clientId: string, secret: string) => ({
  brokers: [`127.0.0.1:${ports.saslSsl}`],
  ssl: true,
  sslCaFile: join(privateDir, 'kafka', 'tls', 'ca.pem'),
  sasl: { mechanism: 'oauthbearer' as const, tokenUrl, clientId, clientSecret: secret },
});

const testKafka = (clientId: string, secret: string) => {
  const settings: KafkaSettings = {
    ...kafkaSettings(clientId, secret),
    clientId: 'oauth-test',
    connectionTimeoutMs: 3_000,
    requestTimeoutMs: 10_000,
  };
  return createKafka(settings, createLogger({ service: 'test', level: 'error' }));
};

beforeAll(async () => {
  await requireLocalStack();
  const login = await fetch(`${KEYCLOAK_URL}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' }),
  }).catch((error: unknown) => {
    throw new Error(
      `Keycloak is not reachable at ${KEYCLOAK_URL} (${String(error)}). Start it: deploy/local/stack.sh start keycloak`,
    );
  });
  if (!login.ok) throw new Error(`Keycloak admin login: ${login.status} ${await login.text()}`);
  adminToken = ((await login.json()) as { access_token: string }).access_token;
  await keycloakAdmin('POST', '', {
    realm,
    enabled: true,
    accessTokenLifespan: 300,
    clients: [serviceClient('muxly-pipeline', true), serviceClient('another-app', false)],
  });
  ports = { plaintext: await freePort(), controller: await freePort(), saslSsl: await freePort() };
  await stack('start', 'kafka');
}, 240_000);

afterAll(async () => {
  await stopAllStartedProcesses();
  try {
    await stack('stop', 'kafka');
  } finally {
    rmSync(privateDir, { recursive: true, force: true });
    if (adminToken) await keycloakAdmin('DELETE', `/${realm}`).catch(() => undefined);
  }
}, 120_000);

test('a wrong client secret fails the connection at once, naming the settings and the token endpoint', async () => {
  const admin = testKafka('muxly-pipeline', 'not-the-secret').admin();
  const failure = await admin.connect().then(
    () => new Error('connected with a wrong client secret'),
    (error: unknown) => error as Error,
  );
  await admin.disconnect();
  expect(failure.message).toContain('kafka.sasl.clientSecret');
  expect(failure.message).toContain(tokenUrl);
  expect(failure.message).toMatch(/401/);
  expect(failure.message).not.toContain('not-the-secret');
  expect(failure.message).not.toContain(clientSecret);
});

test("a genuine token of the realm without the broker's audience is refused by the broker, with its reason", async () => {
  const admin = testKafka('another-app', clientSecret).admin();
  await expect(admin.connect()).rejects.toThrow(
    `kafka.sasl: the broker 127.0.0.1:${ports.saslSsl} refused the token from ${tokenUrl} ({"status":"invalid_token"})`,
  );
  await admin.disconnect();
});

test('ingest, transformer and router move a metric end to end over SASL/OAUTHBEARER with TLS', async () => {
  pipeline = await startPipeline({ kafka: kafkaSettings('muxly-pipeline', clientSecret) });
  const response = await postMetrics(pipeline, { name: 'oauth.checkout', value: 5, dimensions: { plan: 'team' } });
  expect(response.status).toBe(202);
  const { ids } = (await response.json()) as { ids: string[] };
  const delivered = pipeline;
  await waitFor('the metric in the file destination', async () => delivered.deliveredIds().get(ids[0]!) === 1, 60_000);

  // It went through the private broker: its events topic holds the event.
  const admin = testKafka('muxly-pipeline', clientSecret).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(`${pipeline.prefix}events`);
    expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBeGreaterThan(0);
  } finally {
    await admin.disconnect();
  }
}, 180_000);
