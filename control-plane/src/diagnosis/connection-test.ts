import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import { errorMessage } from '@muxly/common';
import type { CheckStep, PluginTemplate } from '../templates/catalog.ts';

// Self-diagnosis of a saved connector or destination. When the type ships its own check (the
// real client: authenticate, permission), that runs; before it, and for every type with a URL
// or host in its config, the generic steps show where a connection breaks: resolve the name,
// then open a TCP connection. Each step has a verdict; a failed step skips the ones after it.

const STEP_TIMEOUT_MS = 5_000;

export interface ConnectionTestResult {
  ok: boolean;
  steps: CheckStep[];
}

interface Endpoint {
  host: string;
  port: number;
  field: string;
}

/** Finds the network endpoint in a config: a URL-like field, or host (+port), or brokers. */
export function findEndpoint(config: Record<string, unknown>): Endpoint | undefined {
  for (const field of ['url', 'endpoint', 'baseUrl', 'webhookUrl', 'apiEndpoint', 'basePath', 'connectionString']) {
    const value = config[field];
    if (typeof value !== 'string') continue;
    try {
      const url = new URL(value);
      const defaultPort = { 'http:': 80, 'https:': 443, 'postgres:': 5432, 'postgresql:': 5432, 'smtp:': 25, 'smtps:': 465 }[url.protocol];
      const port = url.port ? Number(url.port) : defaultPort;
      if (url.hostname && port) return { host: url.hostname.replace(/^\[|\]$/g, ''), port, field };
    } catch {
      // not a URL: try the next field
    }
  }
  if (typeof config.host === 'string' && typeof config.port === 'number') return { host: config.host, port: config.port, field: 'host' };
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

export async function runConnectionTest(
  template: PluginTemplate | undefined,
  storedConfig: Record<string, unknown>,
  credentials: Record<string, unknown> | null,
): Promise<ConnectionTestResult> {
  const merged = { ...storedConfig, ...(credentials ?? {}) };
  const config = template?.credentialsSchema ? storedConfig : merged;
  const steps: CheckStep[] = [];
  const skip = (name: CheckStep['name'], detail: string) => steps.push({ name, status: 'skipped', detail, durationMs: 0 });
  if (!template) {
    steps.push({ name: 'config', status: 'failed', detail: 'the type has no template any more; the services cannot run it', durationMs: 0 });
    return { ok: false, steps };
  }
  const endpoint = findEndpoint(merged);
  if (endpoint) {
    const resolved = await timed('resolve', async () => {
      const addresses = await lookup(endpoint.host, { all: true });
      return `${endpoint.host} (from ${endpoint.field}) resolves to ${addresses.map((a) => a.address).join(', ')}`;
    });
    steps.push(resolved);
    if (resolved.status === 'ok') {
      steps.push(await timed('connect', async () => {
        await tcpConnect(endpoint.host, endpoint.port);
        return `TCP connection to ${endpoint.host}:${endpoint.port} opened`;
      }));
    } else skip('connect', 'the name did not resolve');
  } else {
    skip('resolve', 'the config names no network endpoint');
    skip('connect', 'the config names no network endpoint');
  }
  const reachable = steps.every((step) => step.status !== 'failed');
  if (template.check && reachable) {
    const started = Date.now();
    try {
      const own = await template.check(config, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS * 3), credentials });
      steps.push(...own);
    } catch (error) {
      steps.push({ name: 'check', status: 'failed', detail: errorMessage(error), durationMs: Date.now() - started });
    }
  } else if (template.check) {
    skip('authenticate', 'the endpoint is not reachable');
  } else {
    skip('authenticate', `the ${template.type} type does not provide its own check yet`);
  }
  return { ok: steps.every((step) => step.status !== 'failed'), steps };
}
