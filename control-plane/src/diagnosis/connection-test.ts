import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import { errorMessage, outboundGuard, type ForbiddenDatabases, type OutboundPolicy } from '@muxly/common';
import { ApiProblem } from '../http/problem.ts';
import { CONNECTION_TEST_STEPS, type CheckStep, type PeerEndpoint } from '@muxly/schemas';
import type { PluginTemplate, TemplateCatalog, TemplateKind } from '../templates/catalog.ts';

// Self-diagnosis of a saved connector or destination (POST /api/v1/{connectors,destinations}/{id}/test).
// The answer always lists the same six steps, in order, each with a verdict:
//   config        the stored config and credentials still match the type's schema;
//   resolve       the endpoint's host name resolves;
//   connect       the outbound address guard permits the address, and a TCP connection opens;
//   authenticate  the peer accepts the credentials   } the type's own check, with the real client
//   permission    the credentials may do what the    } (a connector's `check`, a destination's
//                 config asks                        } health check), which says which step failed
//   check         the request itself works (the query is valid, the table exists, records are selected).
// A failed step skips the ones after it; a step the type cannot test is skipped with the reason.

const STEP_TIMEOUT_MS = 5_000;
const OWN_CHECK_TIMEOUT_MS = 20_000;
const ORDER = CONNECTION_TEST_STEPS;

export interface ConnectionTestResult {
  ok: boolean;
  steps: CheckStep[];
}

export interface ConnectionTestInput {
  kind: TemplateKind;
  type: string;
  catalog: TemplateCatalog;
  config: Record<string, unknown>;
  credentials: Record<string, unknown> | null;
  /**
   * The operator's outbound settings, applied as the router and ingest apply them: an endpoint
   * is judged as a delivery or a sync would judge it, whoever saved the object.
   */
  outbound: OutboundPolicy;
  /** Databases no destination may reach: the test refuses them before any connection. */
  forbiddenDatabases: ForbiddenDatabases;
  /** The tested object's id (connectors cache their access tokens per connector). */
  objectId?: string;
  /** Stores new credentials the check obtained (a refresh token the provider rotated). */
  saveCredentials?: (credentials: Record<string, unknown>) => Promise<void>;
}

const DEFAULT_PORTS: Record<string, number> = {
  'http:': 80,
  'https:': 443,
  'postgres:': 5432,
  'postgresql:': 5432,
  'mysql:': 3306,
  'mariadb:': 3306,
  'smtp:': 25,
  'smtps:': 465,
};

function endpointOfUrl(value: string, field: string): PeerEndpoint | undefined {
  try {
    const url = new URL(value);
    const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol];
    if (url.hostname && port) return { host: url.hostname.replace(/^\[|\]$/g, ''), port, field };
  } catch {
    // not a URL
  }
  return undefined;
}

/**
 * Guesses the network endpoint of a type that declares none (a connector plugin): a URL-like
 * field, host (+port) at the top or one level down, or brokers.
 */
function findEndpoint(config: Record<string, unknown>): PeerEndpoint | undefined {
  for (const field of [
    'url',
    'endpoint',
    'baseUrl',
    'apiBaseUrl',
    'webhookUrl',
    'apiEndpoint',
    'basePath',
    'connectionString',
  ]) {
    const value = config[field];
    if (typeof value !== 'string') continue;
    const found = endpointOfUrl(value, field);
    if (found) return found;
  }
  if (typeof config.host === 'string' && typeof config.port === 'number')
    return { host: config.host, port: config.port, field: 'host' };
  for (const [field, value] of Object.entries(config)) {
    const nested = value as { host?: unknown; port?: unknown } | null;
    if (nested && typeof nested === 'object' && typeof nested.host === 'string' && typeof nested.port === 'number') {
      return { host: nested.host, port: nested.port, field: `${field}.host` };
    }
  }
  const brokers = config.brokers;
  if (Array.isArray(brokers) && typeof brokers[0] === 'string') {
    const [host, port] = brokers[0].split(':');
    if (host && port) return { host, port: Number(port), field: 'brokers' };
  }
  return undefined;
}

async function timed(name: CheckStep['name'], work: () => Promise<string>): Promise<CheckStep> {
  const started = Date.now();
  try {
    const detail = await work();
    return { name, status: 'ok', detail, durationMs: Date.now() - started };
  } catch (error) {
    return { name, status: 'failed', detail: errorMessage(error), durationMs: Date.now() - started };
  }
}

function tcpConnect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: STEP_TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${STEP_TIMEOUT_MS} ms`));
    });
    socket.once('error', (error) => reject(new Error(`cannot connect to ${host}:${port}: ${error.message}`)));
  });
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function describeProblem(error: unknown): string {
  if (error instanceof ApiProblem) {
    const fields = (error.errors ?? []).map((problem) => `${problem.pointer} ${problem.detail}`);
    return fields.length > 0 ? `${error.message}: ${fields.join('; ')}` : error.message;
  }
  return errorMessage(error);
}

const STANDARD = new Set<string>(ORDER);

/** Where the type's own check steps go: standard names as they are; a plugin's own names fold into `check`. */
function ownStepName(name: string): CheckStep['name'] {
  return STANDARD.has(name) ? (name as CheckStep['name']) : 'check';
}

export async function runConnectionTest(input: ConnectionTestInput): Promise<ConnectionTestResult> {
  const { kind, type, catalog, credentials } = input;
  const template: PluginTemplate | undefined = catalog.get(kind, type);
  const steps = new Map<CheckStep['name'], CheckStep>();
  const set = (step: CheckStep) => steps.set(step.name, step);
  const finish = (): ConnectionTestResult => {
    let failedEarlier = false;
    const ordered = ORDER.map((name) => {
      const step = steps.get(name) ?? {
        name,
        status: 'skipped' as const,
        detail: failedEarlier ? 'an earlier step failed' : 'not tested',
        durationMs: 0,
      };
      if (step.status === 'failed') failedEarlier = true;
      return step;
    });
    return { ok: ordered.every((step) => step.status !== 'failed'), steps: ordered };
  };

  // config
  if (!template) {
    set({
      name: 'config',
      status: 'failed',
      detail: `the ${kind} type "${type}" has no template any more (a removed plugin?); the services cannot run it`,
      durationMs: 0,
    });
    return finish();
  }
  try {
    // The schema may have changed since the object was saved (an upgrade, a new plugin version).
    catalog.validate(kind, type, input.config, credentials);
    set({
      name: 'config',
      status: 'ok',
      detail: `the config${credentials ? ' and credentials' : ''} match the ${type} schema`,
      durationMs: 0,
    });
  } catch (error) {
    set({ name: 'config', status: 'failed', detail: describeProblem(error), durationMs: 0 });
    return finish();
  }

  // The effective config: destinations keep their secrets inside it, connectors apart.
  const merged = { ...input.config, ...(credentials ?? {}) };
  // A database Muxly protects is refused before any connection (saving refuses it too; this
  // covers objects saved before the rule or with other settings).
  const forbidden = await forbiddenDatabaseProblem(input.forbiddenDatabases, kind, merged);
  if (forbidden) {
    set({ name: 'config', status: 'failed', detail: `${forbidden.pointer} ${forbidden.detail}`, durationMs: 0 });
    return finish();
  }
  const config = template.credentialsSchema ? input.config : merged;

  // resolve, connect
  const declared = template.endpoint ? template.endpoint(merged) : findEndpoint(merged);
  const endpoint = typeof declared === 'string' ? endpointOfUrl(declared, 'the connector endpoint') : declared;
  let reachable = true;
  if (endpoint) {
    let addresses: string[] = [];
    const resolved = await timed('resolve', async () => {
      addresses = (await lookup(endpoint.host, { all: true })).map((entry) => entry.address);
      return `${endpoint.host} (from ${endpoint.field}) resolves to ${addresses.join(', ')}`;
    });
    set(resolved);
    if (resolved.status === 'ok') {
      set(
        await timed('connect', async () => {
          // NOTE: the guard runs before any connection, and its answer names neither the port nor
          // whether anything listens there: a test must not become a way to probe internal ports
          // that a sync or a delivery would never be allowed to reach.
          const guard = outboundGuard(input.outbound);
          const refused = addresses.find((address) => !guard.permits(endpoint.host, address));
          if (refused) {
            throw new Error(
              `${endpoint.host} (${refused}) is an internal address and outbound.allowAddresses does not name it: the outbound address guard refuses it`,
            );
          }
          // The connection goes to an address just checked, not to a fresh lookup of the name.
          await tcpConnect(addresses[0]!, endpoint.port);
          return `TCP connection to ${endpoint.host}:${endpoint.port} opened (the outbound address guard permits it)`;
        }),
      );
    }
    reachable = steps.get('connect')?.status === 'ok';
  } else {
    set({ name: 'resolve', status: 'skipped', detail: 'the config names no network endpoint', durationMs: 0 });
    set({ name: 'connect', status: 'skipped', detail: 'the config names no network endpoint', durationMs: 0 });
  }
  if (!reachable) return finish();

  // authenticate, permission, check: the type's own check with its real client.
  if (!template.check) {
    for (const name of ['authenticate', 'permission', 'check'] as const)
      set({ name, status: 'skipped', detail: `the ${type} type has no check of its own`, durationMs: 0 });
    return finish();
  }
  const started = Date.now();
  let own: CheckStep<string>[];
  try {
    const controller = new AbortController();
    own = await withTimeout(
      template
        .check(config, {
          signal: controller.signal,
          credentials,
          allowAddresses: input.outbound.allowAddresses,
          outbound: input.outbound,
          forbiddenDatabases: input.forbiddenDatabases,
          ...(input.objectId ? { objectId: input.objectId } : {}),
          ...(input.saveCredentials ? { saveCredentials: input.saveCredentials } : {}),
        })
        .finally(() => controller.abort()),
      OWN_CHECK_TIMEOUT_MS,
      `the ${type} check`,
    );
  } catch (error) {
    set({ name: 'authenticate', status: 'failed', detail: errorMessage(error), durationMs: Date.now() - started });
    return finish();
  }
  const folded: CheckStep[] = [];
  for (const step of own) {
    const name = ownStepName(step.name);
    if (name === 'config') {
      // The type found a problem the schema cannot express (e.g. a mapped id column).
      if (step.status === 'failed') {
        set({ ...step, name: 'config' });
        for (const later of ['resolve', 'connect'] as const) steps.delete(later);
        return finish();
      }
    } else if (name === step.name) set({ ...step, name });
    else folded.push({ ...step, name, detail: `${step.name}: ${step.detail}` });
  }
  if (folded.length > 0) {
    // A plugin's own steps are shown together as the check step.
    set({
      name: 'check',
      status: folded.some((step) => step.status === 'failed')
        ? 'failed'
        : folded.every((step) => step.status === 'skipped')
          ? 'skipped'
          : 'ok',
      detail: folded.map((step) => step.detail).join('; '),
      durationMs: folded.reduce((sum, step) => sum + step.durationMs, 0),
    });
  }
  for (const name of ['authenticate', 'permission', 'check'] as const) {
    if (!steps.has(name) && own.every((step) => step.status !== 'failed')) {
      set({ name, status: 'skipped', detail: `not tested by the ${type} check`, durationMs: 0 });
    }
  }
  return finish();
}

/**
 * The problem with a destination whose connection string reaches a database Muxly protects (the
 * control plane's own, where a row is a credential), named by its field; undefined otherwise.
 */
export async function forbiddenDatabaseProblem(
  forbiddenDatabases: ForbiddenDatabases,
  kind: TemplateKind,
  effectiveConfig: Record<string, unknown>,
): Promise<{ pointer: string; detail: string } | undefined> {
  const connectionString = effectiveConfig.connectionString;
  if (kind !== 'destination' || typeof connectionString !== 'string') return undefined;
  const refusal = await forbiddenDatabases.refusal(connectionString);
  return refusal ? { pointer: '/credentials/connectionString', detail: refusal } : undefined;
}
