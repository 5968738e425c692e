import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { PrivatePostgres } from './private-stack.ts';
import { freePort, ServiceProcess, uniqueName, waitFor, type ServiceName } from './services.ts';

// The chaos harness: the whole pipeline as processes (ingest, transformer, router, optionally
// the control plane), metrics posted at a steady rate, delivered to a file and to a database
// table; after a fault, every metric answered 202 must reach both (the table exactly once).

const API_KEY = 'mxk_e2e_chaos_key_0123456789';
const API_KEY_ID = 'chaos';
/** The database destination keys each row by the event id scoped by its source: the load's API key. */
const TABLE_ID_SCOPE = `api/${API_KEY_ID}/`;
const began = Date.now();
/** Progress lines on stderr, with the seconds since the file started (where a slow run spends its time). */
export const step = (what: string) =>
  process.stderr.write(`[chaos +${((Date.now() - began) / 1000).toFixed(1)}s] ${what}\n`);

export interface ChaosOptions {
  brokers: string[];
  registryUrl: string;
  /** The database destination's server (a private one: a test may stop it). */
  destination: PrivatePostgres;
  /** Runs the control plane too, on this server's `muxly` database. */
  controlPlaneDatabase?: PrivatePostgres;
  replicationFactor?: number;
  /** A third destination: a webhook at this URL (a server of the test's, on the loopback address). */
  webhookUrl?: string;
  /** Transformer settings over the defaults (e.g. a shorter session timeout, so a fault's recovery is quicker). */
  transformer?: Record<string, unknown>;
}

export type ChaosServiceName = ServiceName;

export class ChaosPipeline {
  readonly services = new Map<ServiceName, ServiceProcess>();
  readonly ports: Record<ServiceName, number>;
  readonly eventsFile: string;
  readonly #env: Record<string, string>;
  readonly #destination: PrivatePostgres;
  readonly accepted = new Set<string>();
  /** The longest time between two accepted requests since the load started (how long the pipeline stopped taking writes). */
  longestGapMs = 0;
  #load: Promise<void> | undefined;
  #loading = false;

  private constructor(options: {
    env: Record<string, string>;
    ports: Record<ServiceName, number>;
    eventsFile: string;
    destination: PrivatePostgres;
  }) {
    this.#env = options.env;
    this.ports = options.ports;
    this.eventsFile = options.eventsFile;
    this.#destination = options.destination;
  }

  static async start(options: ChaosOptions): Promise<ChaosPipeline> {
    const dir = mkdtempSync(join(tmpdir(), 'muxly-chaos-'));
    const prefix = `${uniqueName('chaos-')}.`;
    const ports = {
      ingest: await freePort(),
      transformer: await freePort(),
      router: await freePort(),
      'control-plane': await freePort(),
    };
    const eventsFile = join(dir, 'events.jsonl');
    const admin = new pg.Client({ connectionString: options.destination.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE destination');
    await admin.end();
    const destination = new pg.Client({ connectionString: options.destination.url('destination') });
    await destination.connect();
    await destination.query('CREATE TABLE events (id text PRIMARY KEY, name text NOT NULL, value double precision)');
    await destination.end();
    if (options.controlPlaneDatabase) {
      const cp = new pg.Client({ connectionString: options.controlPlaneDatabase.url() });
      await cp.connect();
      await cp.query('CREATE DATABASE muxly');
      await cp.end();
    }
    const settings = {
      log: { level: 'warn' },
      kafka: { brokers: options.brokers },
      schemaRegistry: { url: options.registryUrl },
      topics: { prefix, partitions: 3, replicationFactor: options.replicationFactor ?? 1 },
      ingest: {
        http: { port: ports.ingest },
        apiKeys: [{ id: API_KEY_ID, hash: `sha256:${createHash('sha256').update(API_KEY).digest('hex')}` }],
        // Started together with a broker that may be restarting: wait for it.
        kafkaStartTimeoutMs: 120_000,
      },
      transformer: {
        ...options.transformer,
        health: { port: ports.transformer },
        groupId: `${prefix}transformer`,
        instanceId: 'chaos-1',
      },
      router: {
        health: { port: ports.router },
        groupIdPrefix: `${prefix}router.`,
        // Retries outlast a destination away for a minute: nothing is dead-lettered by a fault.
        retry: { maxAttempts: 200, initialDelayMs: 200, maxDelayMs: 2_000 },
      },
      controlPlane: {
        http: { port: ports['control-plane'] },
        database: { url: options.controlPlaneDatabase?.url('muxly') ?? 'postgres://unused@127.0.0.1:1/unused' },
        auth: { bootstrapAdmin: { email: ADMIN.email, password: ADMIN.password } },
      },
      // The webhook receiver is the test's, on the loopback address: the operator allows it.
      outbound: { fileBaseDirectory: dir, allowAddresses: ['127.0.0.1'] },
      pipeline: {
        destinations: [
          { id: 'file', type: 'file', config: { path: 'events.jsonl' } },
          {
            id: 'warehouse',
            type: 'database',
            config: {
              connectionString: options.destination.url('destination'),
              table: 'events',
              columns: { name: '$.name', value: '$.value' },
              statementTimeoutMs: 5_000,
            },
          },
          ...(options.webhookUrl
            ? [
                {
                  id: 'hook',
                  type: 'webhook',
                  config: { url: options.webhookUrl, batchSize: 100 },
                },
              ]
            : []),
        ],
        rules: [{ id: 'all', destinationIds: ['file', 'warehouse', ...(options.webhookUrl ? ['hook'] : [])] }],
      },
    };
    const configFile = join(dir, 'muxly.json');
    writeFileSync(configFile, JSON.stringify(settings, null, 2));
    const pipeline = new ChaosPipeline({
      env: { MUXLY_CONFIG: configFile },
      ports,
      eventsFile,
      destination: options.destination,
    });
    const names: ServiceName[] = ['ingest', 'transformer', 'router'];
    if (options.controlPlaneDatabase) names.push('control-plane');
    await Promise.all(names.map((name) => pipeline.start(name)));
    return pipeline;
  }

  url(name: ServiceName, path: string): string {
    return `http://127.0.0.1:${this.ports[name]}${path}`;
  }

  async start(name: ServiceName): Promise<ServiceProcess> {
    const service = new ServiceProcess(name, this.#env).start();
    this.services.set(name, service);
    await service.waitUntilReady(this.url(name, '/readyz'), 180_000);
    return service;
  }

  /** SIGKILL (no graceful stop: nothing flushed or committed), then a new process. */
  async killAndRestart(name: ServiceName): Promise<void> {
    const service = this.services.get(name)!;
    service.child!.kill('SIGKILL');
    await service.exit;
    await this.start(name);
  }

  /** Names of the services whose process ended (a fault test expects none: no manual restart). */
  exited(): string[] {
    return [...this.services].filter(([, service]) => service.child?.exitCode !== null).map(([name]) => name);
  }

  /** Posts 5 metrics every 100 ms (about 50 per second) until stopLoad(); tracks the ids answered 202. */
  startLoad(): void {
    this.#loading = true;
    this.#load = (async () => {
      let sequence = 0;
      let lastAcceptedAt = Date.now();
      while (this.#loading) {
        const started = Date.now();
        const metrics = Array.from({ length: 5 }, () => ({ id: randomUUID(), name: 'chaos', value: sequence++ }));
        try {
          const response = await fetch(this.url('ingest', '/v1/metrics'), {
            method: 'POST',
            headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ metrics }),
            signal: AbortSignal.timeout(15_000),
          });
          if (response.status === 202) {
            for (const id of ((await response.json()) as { ids: string[] }).ids) this.accepted.add(id);
            this.longestGapMs = Math.max(this.longestGapMs, Date.now() - lastAcceptedAt);
            lastAcceptedAt = Date.now();
          } else await response.arrayBuffer();
        } catch {
          // Not accepted (ingest away, or no answer): not promised, not tracked.
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (Date.now() - started))));
      }
    })();
  }

  async stopLoad(): Promise<void> {
    this.#loading = false;
    await this.#load;
  }

  /** Waits until `count` more metrics than now were accepted (the pipeline takes writes again). */
  async acceptsMore(count: number, timeoutMs = 120_000): Promise<void> {
    const target = this.accepted.size + count;
    await waitFor(`${count} more metrics accepted`, async () => this.accepted.size >= target, timeoutMs, 250);
  }

  fileIds(): Map<string, number> {
    const counts = new Map<string, number>();
    if (!existsSync(this.eventsFile)) return counts;
    for (const line of readFileSync(this.eventsFile, 'utf8').split('\n')) {
      if (!line) continue;
      const { id } = JSON.parse(line) as { id: string };
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  /** The metric ids in the table (each row's key is the id scoped by its source; any other row is an error). */
  async databaseIds(): Promise<string[]> {
    const client = new pg.Client({ connectionString: this.#destination.url('destination') });
    await client.connect();
    try {
      return (await client.query<{ id: string }>('SELECT id FROM events')).rows.map(({ id }) => {
        if (!id.startsWith(TABLE_ID_SCOPE)) throw new Error(`a row not written by the load: ${id}`);
        return id.slice(TABLE_ID_SCOPE.length);
      });
    } finally {
      await client.end();
    }
  }

  /**
   * Every metric accepted so far is in the file (at least once) and in the table (exactly once:
   * the id is its primary key, a redelivery updates the row). Returns how long it took.
   */
  async expectEverythingDelivered(boundMs: number): Promise<number> {
    const started = Date.now();
    const expected = [...this.accepted];
    const missingFrom = async () => {
      const inFile = this.fileIds();
      const inTable = new Set(await this.databaseIds());
      return {
        file: expected.filter((id) => !inFile.has(id)).length,
        table: expected.filter((id) => !inTable.has(id)).length,
      };
    };
    await waitFor(
      `all ${expected.length} accepted metrics in the file and the table`,
      async () => {
        const missing = await missingFrom();
        if (missing.file > 0 || missing.table > 0) throw new Error(`missing: ${JSON.stringify(missing)}`);
        return true;
      },
      boundMs,
      1_000,
    );
    const stored = await this.databaseIds();
    expect(stored.length).toBe(new Set(stored).size);
    return Date.now() - started;
  }

  logs(name: ServiceName): string {
    return this.services.get(name)?.logs() ?? '';
  }

  async stop(): Promise<void> {
    await this.stopLoad();
    await Promise.all([...this.services.values()].map((service) => service.stop()));
  }
}

export const ADMIN = { email: 'chaos-admin@example.com', password: 'chaos-admin-password-0123' };
