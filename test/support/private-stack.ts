import { execFile } from 'node:child_process';
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, ROOT, waitFor } from './services.ts';

// Components started for one test file only, so a fault (a broker killed, a database stopped)
// never touches the shared stack the other tests use: their own folder, their own free ports.

const run = promisify(execFile);

/** Kafka (one node or a three-broker cluster) and the schema registry, started by deploy/local/stack.sh. */
export class PrivateStack {
  readonly dir = mkdtempSync(join(tmpdir(), 'muxly-private-'));
  readonly env: Record<string, string>;
  readonly ports: { kafka: number; registry: number; cluster: number[] };

  private constructor(env: Record<string, string>, ports: PrivateStack['ports']) {
    this.env = { ...env, MUXLY_LOCAL_DIR: this.dir };
    this.ports = ports;
  }

  /**
   * The artifacts already materialised in the repository's own .local (by the shared stack's
   * start or fetch.sh) are linked instead of copied again: the same stamp makes fetch.sh skip them.
   */
  #linkArtifacts(): void {
    for (const [component, folder] of [
      ['kafka', 'lib'],
      ['registry', 'dist'],
    ] as const) {
      const source = join(ROOT, '.local', component);
      if (!existsSync(join(source, '.fetched')) || !existsSync(join(source, folder))) continue;
      mkdirSync(join(this.dir, component), { recursive: true });
      copyFileSync(join(source, '.fetched'), join(this.dir, component, '.fetched'));
      symlinkSync(join(source, folder), join(this.dir, component, folder));
    }
  }

  static async create(): Promise<PrivateStack> {
    const port = () => freePort();
    const [kafka, controller, registry, registryManagement] = [await port(), await port(), await port(), await port()];
    const cluster = [await port(), await port(), await port()];
    const clusterControllers = [await port(), await port(), await port()];
    const stack = new PrivateStack(
      {
        MUXLY_KAFKA_PORT: String(kafka),
        MUXLY_KAFKA_CONTROLLER_PORT: String(controller),
        MUXLY_REGISTRY_PORT: String(registry),
        MUXLY_REGISTRY_MGMT_PORT: String(registryManagement),
        MUXLY_KAFKA_CLUSTER_PORTS: cluster.join(','),
        MUXLY_KAFKA_CLUSTER_CONTROLLER_PORTS: clusterControllers.join(','),
        // A shared 2-core CI box can take minutes to start a JVM under the other tests' load.
        MUXLY_START_TIMEOUT: '300',
      },
      { kafka, registry, cluster },
    );
    stack.#linkArtifacts();
    return stack;
  }

  get broker(): string {
    return `127.0.0.1:${this.ports.kafka}`;
  }

  get clusterBrokers(): string[] {
    return this.ports.cluster.map((port) => `127.0.0.1:${port}`);
  }

  get registryUrl(): string {
    return `http://127.0.0.1:${this.ports.registry}/apis/ccompat/v7`;
  }

  /** Runs deploy/local/stack.sh (start, stop, restart) on this stack's components. */
  async stack(...args: string[]): Promise<void> {
    await run('bash', [`${ROOT}/deploy/local/stack.sh`, ...args], {
      cwd: ROOT,
      timeout: 300_000,
      env: { ...process.env, ...this.env },
    }).catch((error: Error & { stdout?: string; stderr?: string }) => {
      const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.slice(-4_000);
      throw new Error(`stack.sh ${args.join(' ')} failed (${this.dir}):\n${output}`);
    });
  }

  /** Sends a signal to a component's process (kafka, kafka-node2, registry) and waits until it is gone. */
  async kill(component: string, signal: NodeJS.Signals): Promise<void> {
    const pid = Number(readFileSync(join(this.dir, component, 'pid'), 'utf8').trim());
    process.kill(pid, signal);
    await waitFor(
      `${component} (pid ${pid}) to exit after ${signal}`,
      async () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      60_000,
    );
  }

  async remove(): Promise<void> {
    const running = ['registry', 'kafka', 'kafka-node1', 'kafka-node2', 'kafka-node3'].filter((component) =>
      existsSync(join(this.dir, component, 'pid')),
    );
    if (running.length > 0) await this.stack('stop', ...running).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The machine's PostgreSQL binaries (/usr/lib/postgresql/<version>/bin), newest version first. */
function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((version) => join(base, version, 'bin')).find((bin) => existsSync(join(bin, 'pg_ctl')));
  if (!found) throw new Error(`no PostgreSQL server binaries under ${base}: apt-get install postgresql`);
  return found;
}

/**
 * A PostgreSQL server of its own (initdb in a temporary folder, its own port, trust auth), to be
 * stopped and started by a test. Run as the `postgres` user when the test runs as root (the
 * server refuses to run as root).
 */
export class PrivatePostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'muxly-pg-'));
  readonly port: number;
  readonly #bin = postgresBin();

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<PrivatePostgres> {
    const server = new PrivatePostgres(await freePort());
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      chownSync(server.dir, Number(stdout.trim()), Number(group.trim()));
    }
    await server.#run('initdb', ['-D', join(server.dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await server.start();
    return server;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async #run(tool: string, args: string[]): Promise<void> {
    const command = join(this.#bin, tool);
    const asPostgres = process.getuid?.() === 0;
    await run(asPostgres ? 'runuser' : command, asPostgres ? ['-u', 'postgres', '--', command, ...args] : args, {
      cwd: this.dir,
      timeout: 120_000,
    });
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    await this.#run('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'server.log'),
      '-o',
      options,
      '-w',
      'start',
    ]);
  }

  /** A fast stop: open connections are closed, as a server restart does to a client. */
  async stop(): Promise<void> {
    await this.#run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  async remove(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
