import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger, loadSettings, type MuxlySettings } from '@muxly/common';
import { createAsyncServer } from '../../test/support/http.ts';
import { waitFor } from '../../test/support/services.ts';
import { sharedGroupId, startRouter, type RouterService } from './service.ts';

// Finding 10b: the router's /readyz answers without credentials. Each destination's outbound
// check runs in the background once per interval and /readyz answers from the last result, so a
// flood of probes causes no requests to the receivers. The peer counts the checks it receives.

const logger = createLogger({ service: 'router-readiness-test', silent: true });
const prefix = `test.readyz.${randomBytes(4).toString('hex')}.`;
const INTERVAL_SECONDS = 2;

let server: Server;
let checks = 0;
let failing = false;
let router: RouterService | undefined;
let settings: MuxlySettings;

beforeAll(async () => {
  server = createAsyncServer(async (request, response) => {
    if (request.method === 'HEAD') checks += 1;
    // A receiver that drops the connection: the check fails (any HTTP answer would count as reached).
    if (failing) return void request.socket.destroy();
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  settings = loadSettings({
    env: {},
    overrides: {
      log: { level: 'error' },
      topics: { prefix, partitions: 1 },
      router: {
        health: { host: '127.0.0.1', port: 0 },
        groupIdPrefix: `${prefix}router.`,
        destinationCheckIntervalSeconds: INTERVAL_SECONDS,
      },
    },
  });
  try {
    router = await startRouter(
      {
        ...settings,
        pipeline: {
          destinations: [{ id: 'hook', type: 'webhook', enabled: true, config: { url } }],
          rules: [],
        },
      },
      logger,
    );
  } catch (error) {
    throw new Error(
      `the router did not start: ${(error as Error).message} (start the local stack: npm run stack:start)`,
    );
  }
});

afterAll(async () => {
  await router?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  const admin = new Kafka({ brokers: settings.kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin
      .deleteTopics({ topics: (await admin.listTopics()).filter((topic) => topic.startsWith(prefix)) })
      .catch(() => undefined);
    await admin.deleteGroups([sharedGroupId(`${prefix}router.`), `${prefix}router.hook`]).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
});

const readyz = async (): Promise<{ status: number; body: { checks: Record<string, { error?: string }> } }> => {
  const response = await fetch(`http://127.0.0.1:${router!.healthPort}/readyz`);
  return { status: response.status, body: (await response.json()) as never };
};

test('many /readyz probes cause at most one check of the receiver per interval', async () => {
  const started = Date.now();
  const checksBefore = checks;
  const answers = [];
  for (let round = 0; round < 10; round++) answers.push(...(await Promise.all(Array.from({ length: 10 }, readyz))));
  const elapsedMs = Date.now() - started;
  expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 100 }, () => 200));
  // 100 probes; the checks the peer saw meanwhile are bounded by the intervals that passed (plus
  // the one that may have been in flight when we began), not by the number of probes.
  const allowed = Math.floor(elapsedMs / (INTERVAL_SECONDS * 1000)) + 1;
  expect(checks - checksBefore).toBeLessThanOrEqual(allowed);
  expect(allowed).toBeLessThan(100);
});

test('a failing receiver turns /readyz to 503 after the next background check, and back', async () => {
  failing = true;
  const notReady = await waitFor('/readyz to report the failing destination', async () => {
    const answer = await readyz();
    return answer.status === 503 ? answer : undefined;
  });
  expect(notReady.body.checks.destinations?.error).toContain('hook:');
  failing = false;
  await waitFor('/readyz to be ready again', async () => (await readyz()).status === 200);
  expect(checks).toBeGreaterThan(1);
});
