import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, ROOT } from './services.ts';

const run = promisify(execFile);

/**
 * A PRIVATE single-node Kafka (own folder, own ports, started by the local stack's own script),
 * for tests that stop and start a broker: the shared one stays up for everyone else.
 */
export interface PrivateKafka {
  broker: string;
  /** `deploy/local/stack.sh stop kafka` (SIGTERM, then SIGKILL after the grace period). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  remove(): Promise<void>;
}

export async function startPrivateKafka(): Promise<PrivateKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'muxly-private-kafka-'));
  const brokerPort = await freePort();
  const controllerPort = await freePort();
  const stack = async (action: 'start' | 'stop') => {
    await run('bash', [`${ROOT}/deploy/local/stack.sh`, action, 'kafka'], {
      cwd: ROOT,
      timeout: 180_000,
      env: {
        ...process.env,
        MUXLY_LOCAL_DIR: dir,
        MUXLY_KAFKA_PORT: String(brokerPort),
        MUXLY_KAFKA_CONTROLLER_PORT: String(controllerPort),
      },
    });
  };
  // The first start materialises Kafka's jars into the private folder from the local Maven repository.
  await stack('start');
  return {
    broker: `127.0.0.1:${brokerPort}`,
    stop: () => stack('stop'),
    start: () => stack('start'),
    async remove() {
      try {
        await stack('stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
