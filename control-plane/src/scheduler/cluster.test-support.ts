import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createLogger, loadSettings, topicNames, type MuxlySettings, type TopicNames } from '@muxly/common';
import { startControlPlane, type RunningControlPlane } from '../service.ts';
import { createTestDatabase, type TestDatabase } from '../../test/database.ts';
import { deleteTopicsWithPrefix } from '../../../test/support/kafka.ts';
import { waitFor } from '../../../test/support/services.ts';
import { callApi, type ApiAnswer } from '../../../test/support/api.ts';

// Test support for the scheduler's integration tests: several control-plane instances (in this
// process, on their own ports) sharing one fresh PostgreSQL database and one random topic prefix.

export interface Cluster {
  instances: RunningControlPlane[];
  database: TestDatabase;
  settings: MuxlySettings;
  topics: TopicNames;
  db: pg.Client;
  api(
    instance: number,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiAnswer>;
  close(): Promise<void>;
}

/** These tests are about scheduling, not access control: every operation is allowed. */
const allowEverything = () => undefined;

export async function startCluster(count: number, scheduler: Record<string, unknown> = {}): Promise<Cluster> {
  const database = await createTestDatabase();
  const prefix = `test.sched.${randomBytes(4).toString('hex')}.`;
  const settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      topics: { prefix, partitions: 1 },
      kafka: { connectionTimeoutMs: 2000 },
      controlPlane: {
        http: { port: 0 },
        database: { url: database.url, poolMax: 4 },
        secrets: { keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] },
        scheduler: { refreshIntervalMs: 300, sweepIntervalMs: 300, ...scheduler },
      },
    },
  });
  const logger = createLogger({ service: 'control-plane-test', level: 'error', silent: true });
  const instances: RunningControlPlane[] = [];
  try {
    // One after the other: the first applies the migrations.
    for (let index = 0; index < count; index += 1)
      instances.push(
        await startControlPlane({ settings, logger, validateResponses: true, authorize: allowEverything }),
      );
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.stop()));
    await database.drop();
    throw new Error(
      `the control plane did not start (${(error as Error).message}); are Kafka and PostgreSQL up? start the stack with: npm run stack:start`,
    );
  }
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  return {
    instances,
    database,
    settings,
    topics: topicNames(prefix),
    db,
    api: (instance, method, path, body, headers = {}) =>
      callApi(`http://127.0.0.1:${instances[instance]!.port}`, method, path, { body, headers }),
    async close() {
      await db.end();
      await Promise.all(instances.map((instance) => instance.stop()));
      await deleteTopicsWithPrefix(settings.kafka.brokers, prefix);
      await database.drop();
    },
  };
}

/** The shared waitFor with this suite's deadline (the scheduler ticks every few hundred ms). */
export const eventually = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000) =>
  waitFor(what, probe, timeoutMs, 150);

/** A valid custom-HTTP connector config for tests that never reach the API. */
export const customConnector = (id: string, url = 'http://127.0.0.1:9/items') => ({
  id,
  name: id,
  type: 'custom',
  config: { url, recordSelector: '$.items[*]', mapping: { name: 'item', idPath: '$.id' } },
});
