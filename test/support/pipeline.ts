import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { freePort, KAFKA_BROKER, REGISTRY_URL, ServiceProcess, uniqueName, type ServiceName } from './services.ts';

export const TEST_API_KEY = 'mxk_e2e_test_key_0123456789';

export interface TestPipeline {
  dir: string;
  prefix: string;
  configFile: string;
  eventsFile: string;
  ports: { ingest: number; transformer: number; router: number; controlPlane?: number };
  ingestUrl: string;
  /** Set when the pipeline was started with a control plane. */
  controlPlaneUrl?: string;
  services: Record<'ingest' | 'transformer' | 'router', ServiceProcess> & { 'control-plane'?: ServiceProcess };
  /** A fresh process for a service (after the previous one stopped). */
  restart(name: 'ingest' | 'transformer' | 'router'): Promise<ServiceProcess>;
  readyUrl(name: 'ingest' | 'transformer' | 'router'): string;
  stopAll(): Promise<void>;
  /** Event ids found in the destination file, with how often each appears. */
  deliveredIds(): Map<string, number>;
}

/**
 * Writes a settings file for an isolated pipeline (own topic prefix, consumer groups, ports and
 * output file) and starts ingest, transformer and router as processes with it. `kafka` replaces
 * the Kafka settings (another broker, TLS, SASL).
 */
export async function startPipeline(
  options: {
    logLevel?: string;
    kafka?: Record<string, unknown>;
    /** More top-level settings sections (e.g. tracing). */
    settings?: Record<string, unknown>;
    /** Destinations besides the file one; the one rule routes every event to all of them. */
    destinations?: { id: string; type: string; config: Record<string, unknown> }[];
    /**
     * Also run a control plane as a process, on this database, with its health report and metrics
     * history pointed at the three services; the settings' pipeline seeds it. More
     * `controlPlane` settings (auth, services.metricsIntervalSeconds…) go in `settings`.
     */
    controlPlane?: { databaseUrl: string; settings?: Record<string, unknown> };
  } = {},
): Promise<TestPipeline> {
  const dir = mkdtempSync(join(tmpdir(), 'muxly-e2e-'));
  const prefix = `${uniqueName('e2e-')}.`;
  const ports = {
    ingest: await freePort(),
    transformer: await freePort(),
    router: await freePort(),
    ...(options.controlPlane ? { controlPlane: await freePort() } : {}),
  };
  const eventsFile = join(dir, 'events.jsonl');
  const settings = {
    log: { level: options.logLevel ?? 'warn' },
    kafka: options.kafka ?? { brokers: [KAFKA_BROKER] },
    schemaRegistry: { url: REGISTRY_URL },
    topics: { prefix, partitions: 3 },
    ingest: {
      http: { port: ports.ingest },
      apiKeys: [{ id: 'e2e', hash: `sha256:${createHash('sha256').update(TEST_API_KEY).digest('hex')}` }],
    },
    transformer: { health: { port: ports.transformer }, groupId: `${prefix}transformer`, instanceId: 'e2e-1' },
    router: {
      health: { port: ports.router },
      groupIdPrefix: `${prefix}router.`,
      retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 2_000 },
    },
    outbound: { fileBaseDirectory: dir },
    pipeline: {
      destinations: [{ id: 'file', type: 'file', config: { path: 'events.jsonl' } }, ...(options.destinations ?? [])],
      rules: [
        { id: 'all', destinationIds: ['file', ...(options.destinations ?? []).map((destination) => destination.id)] },
      ],
    },
    ...options.settings,
    ...(options.controlPlane
      ? {
          controlPlane: {
            http: { port: ports.controlPlane },
            database: { url: options.controlPlane.databaseUrl, poolMax: 4 },
            ...options.controlPlane.settings,
            services: {
              ingestUrl: `http://127.0.0.1:${ports.ingest}`,
              transformerUrl: `http://127.0.0.1:${ports.transformer}`,
              routerUrl: `http://127.0.0.1:${ports.router}`,
              ...(options.controlPlane.settings?.services as Record<string, unknown> | undefined),
            },
          },
        }
      : {}),
  };
  const configFile = join(dir, 'muxly.json');
  writeFileSync(configFile, JSON.stringify(settings, null, 2));
  const env = { MUXLY_CONFIG: configFile };
  const readyUrl = (name: 'ingest' | 'transformer' | 'router') => `http://127.0.0.1:${ports[name]}/readyz`;
  const controlPlaneUrl = ports.controlPlane ? `http://127.0.0.1:${ports.controlPlane}` : undefined;

  const make = (name: ServiceName) => new ServiceProcess(name, env).start();
  const services: TestPipeline['services'] = {
    ingest: make('ingest'),
    transformer: make('transformer'),
    router: make('router'),
    ...(controlPlaneUrl ? { 'control-plane': make('control-plane') } : {}),
  };
  const pipeline: TestPipeline = {
    dir,
    prefix,
    configFile,
    eventsFile,
    ports,
    ingestUrl: `http://127.0.0.1:${ports.ingest}`,
    ...(controlPlaneUrl ? { controlPlaneUrl } : {}),
    services,
    readyUrl,
    async restart(name) {
      services[name] = make(name);
      await services[name].waitUntilReady(readyUrl(name));
      return services[name];
    },
    async stopAll() {
      await Promise.all(Object.values(services).map((service) => service?.stop()));
    },
    deliveredIds() {
      const counts = new Map<string, number>();
      if (!existsSync(eventsFile)) return counts;
      for (const line of readFileSync(eventsFile, 'utf8').split('\n')) {
        if (!line) continue;
        const id = (JSON.parse(line) as { id: string }).id;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    },
  };
  try {
    await Promise.all([
      ...(['ingest', 'transformer', 'router'] as const).map((name) => services[name].waitUntilReady(readyUrl(name))),
      ...(controlPlaneUrl ? [services['control-plane']?.waitUntilReady(`${controlPlaneUrl}/readyz`, 120_000)] : []),
    ]);
  } catch (error) {
    await pipeline.stopAll();
    throw error;
  }
  return pipeline;
}

export async function postMetrics(pipeline: TestPipeline, body: unknown): Promise<Response> {
  return fetch(`${pipeline.ingestUrl}/v1/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
}
