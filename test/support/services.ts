import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const KAFKA_BROKER = process.env.MUXLY_KAFKA__BROKERS ?? '127.0.0.1:9092';
export const REGISTRY_URL = process.env.MUXLY_SCHEMA_REGISTRY__URL ?? 'http://127.0.0.1:8085/apis/ccompat/v7';

/** A short random suffix for topic names, group ids and files, so tests never share state. */
export const uniqueName = (prefix: string) => `${prefix}${randomBytes(4).toString('hex')}`;

/** Fails (never skips) with the command that starts what is missing. */
export async function requireLocalStack(): Promise<void> {
  const kafka = new Kafka({
    brokers: [KAFKA_BROKER],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    retry: { retries: 1 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    throw new Error(
      `Kafka is not reachable at ${KAFKA_BROKER} (${(error as Error).message}). Start the local stack: npm run stack:start`,
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  try {
    const response = await fetch(`${REGISTRY_URL}/subjects`, { signal: AbortSignal.timeout(3_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    throw new Error(
      `The schema registry is not reachable at ${REGISTRY_URL} (${(error as Error).message}). Start the local stack: npm run stack:start`,
    );
  }
}

/*
 * Ports for components a test starts itself. Asking the OS for port 0 and closing it again is
 * racy: the port stays free until the component binds it, which for a JVM can be a minute
 * later, and meanwhile another jest worker's freePort may be handed the same number (CI once
 * saw a private PostgreSQL take the port a private registry was about to bind). Each jest worker
 * therefore draws from its own block below the kernel's ephemeral range (32768 and up on Linux),
 * where neither the OS nor another worker hands out ports; a bind check skips ports in use.
 */
const PORT_BLOCK_BASE = 20_000;
const PORT_BLOCK_SIZE = 500;
const worker = Number(process.env.JEST_WORKER_ID);
const portBlock =
  Number.isInteger(worker) && worker >= 1 && worker <= 25
    ? PORT_BLOCK_BASE + (worker - 1) * PORT_BLOCK_SIZE
    : undefined;
// Jest loads this module afresh for every test file, so a fixed start would hand each suite the
// very ports the suite before it used (a private broker's, which its leftover clients may still
// dial); a random start keeps consecutive suites, and processes under the same worker id, apart.
let nextPortOffset = Math.floor(Math.random() * PORT_BLOCK_SIZE);

async function bindable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

/** A port no one listens on, reserved for this jest worker (outside jest: one the OS picks). */
export async function freePort(): Promise<number> {
  if (portBlock === undefined) {
    const port = await bindable(0);
    if (port === undefined) throw new Error('no free port from the OS');
    return port;
  }
  for (let tries = 0; tries < PORT_BLOCK_SIZE; tries += 1) {
    const port = portBlock + nextPortOffset;
    nextPortOffset = (nextPortOffset + 1) % PORT_BLOCK_SIZE;
    if ((await bindable(port)) !== undefined) return port;
  }
  throw new Error(`no free port in ${portBlock}-${portBlock + PORT_BLOCK_SIZE - 1} (jest worker ${worker})`);
}

/** An error's message with its causes (fetch's "fetch failed" hides ECONNREFUSED in its cause). */
function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error && parts.length < 4; current = current.cause)
    parts.push(current.message);
  return parts.length > 0 ? parts.join(': ') : String(error);
}

/**
 * Polls `probe` until it returns a value (neither undefined nor false) and returns it; past the
 * deadline, fails naming `what` and the probe's last error. The one way tests wait for an outcome.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      // The failure named at the deadline is the last attempt's, not an early one's.
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${describeError(lastError)}` : ''}`,
  );
}

export type ServiceName = 'ingest' | 'transformer' | 'router' | 'control-plane';

/** Node options a service runs with, as scripts/start.sh and docker-compose.yml start it. */
const NODE_ARGS: Partial<Record<ServiceName, string[]>> = {
  // V8 heap bounds keep the router's RSS in its budget (docs/performance.md, Router).
  router: ['--max-old-space-size=512', '--max-semi-space-size=16'],
  // The same bounds for ingest and the transformer (docs/performance.md, Ingest and transformer).
  ingest: ['--max-old-space-size=512', '--max-semi-space-size=16'],
  transformer: ['--max-old-space-size=512', '--max-semi-space-size=16'],
};

const startedProcesses = new Set<ServiceProcess>();

/** Stops every service process this test file started, even those whose start timed out. */
export async function stopAllStartedProcesses(): Promise<void> {
  await Promise.all([...startedProcesses].map((service) => service.stop()));
  startedProcesses.clear();
}

/** A service running as its own process, exactly as `npm start` runs it. */
export class ServiceProcess {
  readonly name: ServiceName;
  readonly env: NodeJS.ProcessEnv;
  readonly output: string[] = [];
  child: ChildProcess | undefined;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

  constructor(name: ServiceName, env: Record<string, string>) {
    this.name = name;
    // Only the given settings: nothing from the developer's own MUXLY_ variables (or the
    // OpenTelemetry ones the settings loader reads) leaks in.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !key.startsWith('MUXLY_') && !key.startsWith('OTEL_') && key !== 'NODE_OPTIONS',
      ),
    );
    this.env = { ...inherited, ...env };
  }

  start(): this {
    const child = spawn(process.execPath, [...(NODE_ARGS[this.name] ?? []), `${ROOT}/${this.name}/src/main.ts`], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    startedProcesses.add(this);
    const collect = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 2_000) this.output.splice(0, 1_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return this;
  }

  async waitUntilReady(url: string, timeoutMs = 60_000): Promise<void> {
    let exited = false;
    void this.exit?.then(() => (exited = true));
    await waitFor(
      `${this.name} to be ready at ${url}`,
      async () => {
        if (exited) throw new Error(`${this.name} exited during start:\n${this.logs().slice(-3_000)}`);
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) return true;
        // A service that answers but is not ready says why (its /readyz lists the failing checks).
        throw new Error(`answered ${response.status}: ${(await response.text()).slice(0, 1_000)}`);
      },
      timeoutMs,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- ${this.name} output ---\n${this.logs().slice(-3_000)}`);
    });
  }

  /** SIGTERM and wait for a graceful exit. */
  async stop(timeoutMs = 40_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null)
      return (await this.exit) ?? { code: null, signal: null };
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    const result = await this.exit!;
    clearTimeout(timer);
    return result;
  }

  logs(): string {
    return this.output.join('');
  }
}
