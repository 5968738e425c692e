import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { setSecurityHeaders } from '../http/security-headers.ts';
import { problem, PROBLEM_CONTENT_TYPE } from '../problem.ts';
import type { ProgressTracker } from './progress.ts';

/** A dependency check for /readyz: resolves when the dependency answers, throws otherwise. */
export type ReadinessCheck = () => Promise<void>;

/**
 * One dependency's answer in a service's /readyz and in the control plane's GET /api/v1/health
 * (CheckResult in its OpenAPI document).
 */
export interface HealthCheckResult {
  status: 'ok' | 'failing';
  error?: string;
  /** What the dependency said about itself (a service's own /readyz checks). */
  details?: unknown;
}

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  // prom-client's *_total series of active handles, requests and resources are gauges with a
  // counter's suffix, which Prometheus's linter refuses and which confuse rate() users; each is
  // the sum of its per-type gauge (e.g. sum(nodejs_active_handles)), so nothing is lost.
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  return registry;
}

const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export interface HealthEndpoints {
  registry: Registry;
  readiness: Record<string, ReadinessCheck>;
  /** False once shutdown begins, so load balancers stop sending work before the listener closes. */
  isAlive?: () => boolean;
  /** Consumer loops whose progress decides liveness (a stalled loop turns /healthz to 503). */
  progress?: ProgressTracker;
}

/**
 * Answers /healthz (alive), /readyz (every dependency answers; 503 with the failing ones
 * otherwise) and /metrics (Prometheus text). Returns undefined for other paths so a service can
 * mount it in front of its own handler.
 */
export async function handleHealthRequest(
  request: IncomingMessage,
  response: ServerResponse,
  endpoints: HealthEndpoints,
): Promise<boolean> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (path === '/healthz') {
    if (!(endpoints.isAlive?.() ?? true)) {
      sendJson(response, 503, { status: 'stopping' });
      return true;
    }
    const stalled = (await endpoints.progress?.stalled()) ?? [];
    if (stalled.length > 0) sendJson(response, 503, { status: 'stalled', stalled });
    else sendJson(response, 200, { status: 'ok' });
    return true;
  }
  if (path === '/readyz') {
    const results = await checkAll(endpoints.readiness);
    const ready = Object.values(results).every((r) => r.status === 'ok');
    sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks: results });
    return true;
  }
  if (path === '/metrics') {
    const body = await endpoints.registry.metrics();
    response.writeHead(200, { 'content-type': endpoints.registry.contentType });
    response.end(body);
    return true;
  }
  return false;
}

export async function checkAll(
  checks: Record<string, ReadinessCheck>,
  timeoutMs = 3_000,
): Promise<Record<string, HealthCheckResult>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, { status: 'ok' as const }] as const;
      } catch (error) {
        return [name, { status: 'failing' as const, error: (error as Error).message }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

/** A standalone server for services without an HTTP API of their own (transformer, router). */
export async function startHealthServer(
  options: HealthEndpoints & { host: string; port: number },
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    setSecurityHeaders(response);
    handleHealthRequest(request, response, options)
      .then((handled) => {
        if (!handled) {
          response.writeHead(404, { 'content-type': PROBLEM_CONTENT_TYPE });
          response.end(JSON.stringify(problem(404, undefined, { type: 'about:blank' })));
        }
      })
      .catch(() => {
        response.writeHead(500);
        response.end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
