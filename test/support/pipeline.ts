import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { freePort, KAFKA_BROKER, REGISTRY_URL, ServiceProcess, uniqueName, type ServiceName } from './services.ts';

export const TEST_API_KEY = 'mxk_e2e_test_key_0123456789';

/** A service the starter can run (the control plane through `options.controlPlane`). */
export type PipelineService = ServiceName;

export interface TestPipeline {
  dir: string;
  prefix: string;
  configFile: string;
  eventsFile: string;
  /** The HTTP port of every service this pipeline runs (health, or the API for ingest and the control plane). */
  ports: Record<PipelineService, number>;
  ingestUrl: string;
  /** Set when the pipeline was started with a control plane. */
  controlPlaneUrl?: string;
  /** The process of each service started; a service not asked for is not in it. */
  services: Partial<Record<PipelineService, ServiceProcess>>;
  /** The current process of a service this pipeline started (fails naming it otherwise). */
  service(name: PipelineService): ServiceProcess;
  /** A fresh process for a service (after the previous one stopped or was killed). */
  restart(name: PipelineService): Promise<ServiceProcess>;
  readyUrl(name: PipelineService): string;
  stopAll(): Promise<void>;
  /** Event ids found in the destination file, with how often each appears. */
  deliveredIds(): Map<string, number>;
}

export interface PipelineOptions {
  /** The data-path services to start, all at once; ingest, transformer and router by default. */
  services?: readonly Exclude<PipelineService, 'control-plane'>[];
  /** Start of the random topic prefix (and consumer groups), so a leftover topic names its test. */
  prefix?: string;
  logLevel?: string;
  /** Replaces the Kafka settings (another broker, TLS, SASL). */
  kafka?: Record<string, unknown>;
  /**
   * Settings merged over the starter's own, section by section (objects merge, anything else,
   * arrays included, replaces): e.g. tracing, `topics.partitions`.
   */
  settings?: Record<string, unknown>;
  /** Destinations besides the file one; the one rule routes every event to all of them. */
  destinations?: { id: string; type: string; config: Record<string, unknown> }[];
  /**
   * Also run a control plane as a process, on this database, with its health report and metrics
   * history pointed at the three services; the settings' pipeline seeds it. `settings` are more
   * `controlPlane` settings (auth, services.metricsIntervalSeconds…), merged like `settings`.
   */
  controlPlane?: { databaseUrl: string; settings?: Record<string, unknown> };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function mergeSettings(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? mergeSettings(current, value) : value;
  }
  return merged;
}

/**
 * The one way a test starts services as processes: writes a settings file for an isolated pipeline
 * (own topic prefix, consumer groups, ports and output file), starts the services asked for with
 * it and waits until each is ready. On a failed start every process it started is stopped.
 */
export async function startPipeline(options: PipelineOptions = {}): Promise<TestPipeline> {
  const names: PipelineService[] = [
    ...(options.services ?? (['ingest', 'transformer', 'router'] as const)),
    ...(options.controlPlane ? (['control-plane'] as const) : []),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'muxly-e2e-'));
  const prefix = `${uniqueName(options.prefix ?? 'e2e-')}.`;
  const ports: Record<PipelineService, number> = {
    ingest: await freePort(),
    transformer: await freePort(),
    router: await freePort(),
    'control-plane': await freePort(),
  };
  const eventsFile = join(dir, 'events.jsonl');
  const base = {
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
    // The control plane's section only when it runs: its schema asks for a database.
    ...(options.controlPlane
      ? {
          controlPlane: mergeSettings(
            {
              http: { port: ports['control-plane'] },
              database: { url: options.controlPlane.databaseUrl, poolMax: 4 },
              services: {
                ingestUrl: `http://127.0.0.1:${ports.ingest}`,
                transformerUrl: `http://127.0.0.1:${ports.transformer}`,
                routerUrl: `http://127.0.0.1:${ports.router}`,
              },
            },
            options.controlPlane.settings ?? {},
          ),
        }
      : {}),
  };
  const settings = mergeSettings(base, options.settings ?? {});
  const configFile = join(dir, 'muxly.json');
  writeFileSync(configFile, JSON.stringify(settings, null, 2));
  const env = { MUXLY_CONFIG: configFile };
  const readyUrl = (name: PipelineService) => `http://127.0.0.1:${ports[name]}/readyz`;

  const make = (name: PipelineService) => new ServiceProcess(name, env).start();
  const services: Partial<Record<PipelineService, ServiceProcess>> = {};
  for (const name of names) services[name] = make(name);
  const pipeline: TestPipeline = {
    dir,
    prefix,
    configFile,
    eventsFile,
    ports,
    ingestUrl: `http://127.0.0.1:${ports.ingest}`,
    ...(options.controlPlane ? { controlPlaneUrl: `http://127.0.0.1:${ports['control-plane']}` } : {}),
    services,
    service(name) {
      const service = services[name];
      if (!service) throw new Error(`This test pipeline did not start ${name} (options.services: ${names.join(', ')})`);
      return service;
    },
    readyUrl,
    async restart(name) {
      const service = make(name);
      services[name] = service;
      await service.waitUntilReady(readyUrl(name));
      return service;
    },
    async stopAll() {
      await Promise.all(Object.values(services).map((service) => service.stop()));
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
    // The control plane migrates its database before it is ready: it gets longer.
    await Promise.all(
      names.map((name) =>
        services[name]!.waitUntilReady(readyUrl(name), name === 'control-plane' ? 120_000 : undefined),
      ),
    );
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
