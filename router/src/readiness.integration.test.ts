import { randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { createLogger, loadSettings, type MuxlySettings } from '@muxly/common';
import { createAsyncServer } from '../../test/support/http.ts';
import { deleteTopicsAndGroups } from '../../test/support/kafka.ts';
import { waitFor } from '../../test/support/services.ts';
import { startRouter, type RouterService } from './service.ts';

// The router's /readyz answers without credentials. Each destination's outbound
// check runs in the background once per interval and /readyz answers from the last result, so a
// flood of probes causes no requests to the receivers. The peer counts the checks it receives.

const logger = createLogger({ service: 'router-readiness-test', silent: true });
const prefix = `test.readyz.${randomBytes(4).toString('hex')}.`;
const INTERVAL_SECONDS = 2;

let server: Server;
let checks = 0;
let failing = false;
/** While set, the receiver leaves checks unanswered (kept here to be answered later). */
let holding = false;
const held: ServerResponse[] = [];
let router: RouterService | undefined;
let settings: MuxlySettings;

beforeAll(async () => {
  server = createAsyncServer(async (request, response) => {
    if (request.method === 'HEAD') checks += 1;
    // A receiver that drops the connection: the check fails (any HTTP answer would count as reached).
    if (failing) return void request.socket.destroy();
    if (holding) return void held.push(response);
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
          // The longest timeout: a check the receiver holds stays in flight for the whole first test.
          destinations: [{ id: 'hook', type: 'webhook', enabled: true, config: { url, timeoutMs: 120_000 } }],
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
  await deleteTopicsAndGroups(settings.kafka.brokers, { prefix });
});

const readyz = async (): Promise<{ status: number; body: { checks: Record<string, { error?: string }> } }> => {
  const response = await fetch(`http://127.0.0.1:${router!.healthPort}/readyz`);
  return { status: response.status, body: (await response.json()) as never };
};

test('many /readyz probes cause no check of the receiver: /readyz answers from the last background check', async () => {
  // The receiver holds the next background check unanswered. A router that checked on each probe
  // would wait for that check or send the receiver a request per probe; one that answers from the
  // last result answers at once, and its own next tick skips while the held check is in flight.
  holding = true;
  await waitFor('a background check held by the receiver', () => held.length > 0);
  const checksBefore = checks;
  const answers = [];
  for (let round = 0; round < 10; round++) answers.push(...(await Promise.all(Array.from({ length: 10 }, readyz))));
  expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 100 }, () => 200));
  expect(checks - checksBefore).toBe(0);
  holding = false;
  for (const response of held.splice(0)) response.writeHead(204).end();
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
