import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { loadSettings, redact, type Logger, type MuxlySettings } from '@muxly/common';
import { startControlPlane, type RunningControlPlane } from '../../src/service.ts';
import type { PluginTemplate } from '../../src/templates/catalog.ts';
import { createTestDatabase, type TestDatabase } from '../database.ts';
import { testTemplates, type ApiAnswer } from '../harness.ts';
import { deleteTopicsWithPrefix } from '../../../test/support/kafka.ts';
import { callApi } from '../../../test/support/api.ts';

// A control plane with authentication enforced (no authorize override), a fresh database, and
// every log line captured the way the service logger writes it (redacted JSON), so tests can
// assert that no secret reaches a log.

export const ADMIN = { email: 'admin@example.test', password: 'first-admin-password-1' };
export const KEYCLOAK_URL = 'http://127.0.0.1:8180';

export function ed25519Pem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

export function capturingLogger(lines: string[], fields: Record<string, unknown> = {}): Logger {
  const write = (level: string) => (message: string, extra?: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, message, ...(redact({ ...fields, ...extra }) as object) }));
  };
  return {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    child: (more) => capturingLogger(lines, { ...fields, ...more }),
  };
}

/** Runs one query on a test database with its own connection (to look at what the API stored). */
export async function queryRows<T>(database: TestDatabase, query: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(query, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export interface AuthHarness {
  service: RunningControlPlane;
  settings: MuxlySettings;
  database: TestDatabase;
  baseUrl: string;
  logs: string[];
  signingKey: { privatePem: string; publicPem: string };
  api(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<ApiAnswer>;
  login(username: string, password: string): Promise<{ accessToken: string; refreshToken: string }>;
  /** Stops the control plane only (an outage); `close` then drops the database. */
  stopService(): Promise<void>;
  close(): Promise<void>;
}

export interface AuthHarnessOptions {
  /** An existing database (dropped by close); default a new one. */
  database?: TestDatabase;
  /** Create ADMIN from settings at start (default true). */
  bootstrapAdmin?: boolean;
  /** Default testTemplates; the real ones (loadTemplates) for tests of the types' own checks. */
  templates?: PluginTemplate[];
  /** Other top-level settings sections (e.g. `outbound`). */
  settings?: Record<string, unknown>;
}

export async function startAuthHarness(
  auth: Record<string, unknown> = {},
  options: AuthHarnessOptions = {},
): Promise<AuthHarness> {
  const database = options.database ?? (await createTestDatabase());
  const prefix = `test.auth.${randomBytes(4).toString('hex')}.`;
  const signingKey = ed25519Pem();
  const settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'debug' },
      ...options.settings,
      topics: { prefix, partitions: 1 },
      kafka: { connectionTimeoutMs: 2000 },
      controlPlane: {
        http: { port: 0 },
        database: { url: database.url, poolMax: 4 },
        publishConfig: false,
        scheduler: { enabled: false },
        auth: {
          signingKey: signingKey.privatePem,
          ...(options.bootstrapAdmin === false ? {} : { bootstrapAdmin: ADMIN }),
          ...auth,
        },
      },
    },
  });
  const logs: string[] = [];
  let service: RunningControlPlane;
  try {
    service = await startControlPlane({
      settings,
      logger: capturingLogger(logs),
      templates: options.templates ?? testTemplates,
      validateResponses: true,
    });
  } catch (error) {
    await database.drop();
    throw new Error(
      `the control plane did not start: ${(error as Error).message}\n(if Kafka or PostgreSQL is not running, start the stack with: npm run stack:start)`,
    );
  }
  const baseUrl = `http://127.0.0.1:${service.port}`;
  const api: AuthHarness['api'] = (method, path, options = {}) => callApi(baseUrl, method, path, options);
  let stopped: Promise<void> | null = null;
  const stopService = () => (stopped ??= service.stop());
  return {
    service,
    settings,
    database,
    baseUrl,
    logs,
    signingKey,
    api,
    async login(username, password) {
      const answer = await api('POST', '/api/v1/auth/login', { body: { username, password } });
      if (answer.status !== 200)
        throw new Error(`login of ${username} failed: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body;
    },
    stopService,
    async close() {
      await stopService();
      await deleteTopicsWithPrefix(settings.kafka.brokers, prefix).catch(() => undefined);
      await database.drop();
    },
  };
}

/** A Keycloak access token by the direct-access grant of the test realms' public client. */
export async function keycloakToken(realm: string, username: string, password: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${KEYCLOAK_URL}/realms/${realm}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: 'muxly-cli',
        username,
        password,
        scope: 'openid',
      }),
    });
  } catch (error) {
    throw new Error(
      `Keycloak does not answer at ${KEYCLOAK_URL} (${(error as Error).message}); start it with: bash deploy/local/stack.sh start keycloak`,
    );
  }
  const body = (await response.json()) as { access_token?: string };
  if (!response.ok || !body.access_token)
    throw new Error(
      `Keycloak refused the token request for ${username}@${realm}: ${response.status} ${JSON.stringify(body)}`,
    );
  return body.access_token;
}

/** Fails (with how to start it) when Keycloak's test realms do not answer. */
export async function requireKeycloak(): Promise<void> {
  for (const realm of ['muxly', 'other']) {
    const answer = await fetch(`${KEYCLOAK_URL}/realms/${realm}`).catch(() => null);
    if (!answer?.ok)
      throw new Error(
        `Keycloak's "${realm}" realm does not answer at ${KEYCLOAK_URL}; start it with: bash deploy/local/stack.sh start keycloak`,
      );
  }
}

/** The example realm of the local stack (deploy/local/keycloak): roles, the `muxly-cli` client, three users. */
export function exampleRealm(): Record<string, unknown> & { clients: Record<string, unknown>[] } {
  return JSON.parse(
    readFileSync(new URL('../../../deploy/local/keycloak/muxly-test-realm.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown> & { clients: Record<string, unknown>[] };
}

export interface ThrowAwayRealm {
  name: string;
  issuer: string;
  /** Keycloak's admin REST API under this realm (`''` is the realm itself); the parsed JSON answer, if any. */
  admin(method: string, path: string, body?: unknown): Promise<unknown>;
  /** Deletes the realm. */
  drop(): Promise<void>;
}

/**
 * A realm of a test's own on the local Keycloak (through the master realm's admin API), so it can
 * change lifetimes, keys or clients without touching the shared example realm. `representation`
 * is a realm as Keycloak exports it (e.g. exampleRealm() with changes); its name is replaced.
 */
export async function createThrowAwayRealm(
  prefix: string,
  representation: Record<string, unknown>,
): Promise<ThrowAwayRealm> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  // NOTE: master-realm admin tokens live 60 s and a browser test outlasts that: a fresh one when it is near its end.
  let admin: { token: string; until: number } | null = null;
  const adminToken = async () => {
    if (admin && admin.until > Date.now()) return admin.token;
    const answer = await fetch(`${KEYCLOAK_URL}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: 'admin-cli',
        username: 'admin',
        password: 'admin',
      }),
    }).catch((error: unknown) => {
      throw new Error(
        `Keycloak does not answer at ${KEYCLOAK_URL} (${(error as Error).message}); start it with: bash deploy/local/stack.sh start keycloak`,
      );
    });
    const body = (await answer.json()) as { access_token: string; expires_in: number };
    if (!answer.ok) throw new Error(`Keycloak refused the admin sign-in: ${answer.status} ${JSON.stringify(body)}`);
    admin = { token: body.access_token, until: Date.now() + (body.expires_in - 15) * 1000 };
    return admin.token;
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${KEYCLOAK_URL}/admin/realms${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await adminToken()}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) throw new Error(`Keycloak admin ${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 200 ? ((await response.json()) as unknown) : null;
  };
  await call('POST', '', { ...representation, realm: name });
  return {
    name,
    issuer: `${KEYCLOAK_URL}/realms/${name}`,
    admin: (method, path, body) => call(method, `/${name}${path}`, body),
    drop: async () => {
      await call('DELETE', `/${name}`);
    },
  };
}
