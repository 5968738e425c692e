import type { AddressInfo } from 'node:net';
import { ADMIN, ChaosPipeline, step } from '../support/chaos.ts';
import { createAsyncServer } from '../support/http.ts';
import { PrivatePostgres, PrivateStack } from '../support/private-stack.ts';
import { stopAllStartedProcesses, waitFor, type ServiceName } from '../support/services.ts';

// One fault at a time on a single PRIVATE broker, registry and PostgreSQL (never the
// shared stack), with the whole pipeline (ingest, transformer, router, control plane) running as
// processes and metrics posted at a steady rate to a file, a database table and a webhook. After
// each fault every metric answered 202 must be in the file and the table (the table exactly once)
// within a bound, and no service may have needed a restart by hand. One pipeline serves every
// fault, in order, so the suite pays the start of the JVMs and the services once.

/** How long after a fault ended everything accepted must be delivered (a loaded 2-core CI box). */
const DELIVERY_BOUND_MS = 180_000;
/** A broker fault lasts this long: long enough for every client to lose its connections and retry. */
const BROKER_AWAY_MS = 10_000;
/** The webhook refuses this long before it recovers. */
const WEBHOOK_REFUSES_MS = 30_000;

let stack: PrivateStack;
let destination: PrivatePostgres;
let controlPlaneDatabase: PrivatePostgres;
let pipeline: ChaosPipeline;
const webhook = { refusing: false, refused: 0, ids: new Set<string>() };
const receiver = createAsyncServer(async (request, response) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  if (request.method !== 'POST') return void response.writeHead(204).end();
  if (webhook.refusing) {
    webhook.refused += 1;
    return void response.writeHead(503).end('refusing on purpose');
  }
  for (const event of JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }[]) webhook.ids.add(event.id);
  response.writeHead(200).end();
});
const began = Date.now();
/** Seconds each fault took, from its start to everything delivered (printed at the end, for the docs). */
const figures: string[] = [];

beforeAll(async () => {
  stack = await PrivateStack.create();
  step(`private broker and registry starting in ${stack.dir}`);
  const starting = stack.stack('start', 'kafka', 'registry');
  destination = await PrivatePostgres.start();
  controlPlaneDatabase = await PrivatePostgres.start();
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  await starting;
  step('services starting');
  pipeline = await ChaosPipeline.start({
    brokers: [stack.broker],
    registryUrl: stack.registryUrl,
    destination,
    controlPlaneDatabase,
    webhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
    // A restarted broker forgets nothing of the groups, so the transformer's member of before the
    // fault holds its partitions until its session times out: a shorter session (the minimum the
    // setting allows is 6 s) shortens the recovery without changing what is checked.
    transformer: { sessionTimeoutMs: 10_000, commitTimeoutMs: 10_000 },
  });
  pipeline.startLoad();
  await pipeline.acceptsMore(100);
  step('load running');
}, 900_000);

afterAll(async () => {
  await pipeline?.stop();
  await stopAllStartedProcesses();
  await new Promise((resolve) => receiver.close(resolve));
  await Promise.all([stack?.remove(), destination?.remove(), controlPlaneDatabase?.remove()]);
  step(`suite done in ${((Date.now() - began) / 1000).toFixed(0)} s:\n  ${figures.join('\n  ')}`);
}, 180_000);

/** After a fault: writes are accepted again, then everything accepted reaches both destinations; no process ended. */
async function recovers(fault: string, faultStartedAt: number, faultEndedAt: number): Promise<void> {
  await pipeline.acceptsMore(50, DELIVERY_BOUND_MS);
  const acceptingAfterS = (Date.now() - faultEndedAt) / 1000;
  await pipeline.expectEverythingDelivered(DELIVERY_BOUND_MS);
  const figure =
    `${fault}: 50 more metrics accepted ${acceptingAfterS.toFixed(1)} s after the fault ended, ` +
    `every accepted metric (${pipeline.accepted.size} so far) in the file and the table ` +
    `${((Date.now() - faultEndedAt) / 1000).toFixed(1)} s after it ` +
    `(${((Date.now() - faultStartedAt) / 1000).toFixed(1)} s from the fault's start)`;
  figures.push(figure);
  step(figure);
  expect(pipeline.exited()).toEqual([]);
}

async function brokerAway(signal: NodeJS.Signals): Promise<void> {
  const started = Date.now();
  step(`broker: ${signal}`);
  await stack.kill('kafka', signal);
  // The fault itself: the broker stays away this long (not a wait for an outcome).
  await new Promise((resolve) => setTimeout(resolve, BROKER_AWAY_MS));
  step('broker: starting again');
  await stack.stack('start', 'kafka');
  await recovers(`broker ${signal} for ${BROKER_AWAY_MS / 1000} s`, started, Date.now());
}

test('the broker stopped with SIGTERM for 10 s', async () => {
  await brokerAway('SIGTERM');
}, 600_000);

test('the broker killed with SIGKILL for 10 s', async () => {
  await brokerAway('SIGKILL');
}, 600_000);

test('the schema registry restarted: the transformer reports it in its readiness and goes on', async () => {
  const started = Date.now();
  await stack.kill('registry', 'SIGTERM');
  step('registry stopped');
  const readiness = await waitFor('the transformer to report the registry away', async () => {
    const response = await fetch(pipeline.url('transformer', '/readyz'));
    const body = (await response.json()) as { checks?: Record<string, string> };
    return response.status === 503 ? body : undefined;
  });
  expect(JSON.stringify(readiness)).toMatch(/schemaRegistry/);
  // Transforming goes on without the registry (the schema id was kept at start).
  await pipeline.acceptsMore(50);
  await pipeline.expectEverythingDelivered(DELIVERY_BOUND_MS);
  await stack.stack('start', 'registry');
  step('registry started again');
  const ended = Date.now();
  await waitFor('the transformer ready again', async () => (await fetch(pipeline.url('transformer', '/readyz'))).ok);
  await recovers('schema registry restarted', started, ended);
}, 600_000);

test('PostgreSQL of the control plane restarted: the API answers 503 problem+json meanwhile, then works again', async () => {
  const login = await fetch(pipeline.url('control-plane', '/api/v1/auth/login'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: ADMIN.email, password: ADMIN.password }),
  });
  expect(login.status).toBe(200);
  const { accessToken } = (await login.json()) as { accessToken: string };
  const listDestinations = () =>
    fetch(pipeline.url('control-plane', '/api/v1/destinations'), {
      headers: { authorization: `Bearer ${accessToken}` },
      signal: AbortSignal.timeout(20_000),
    });
  expect((await listDestinations()).status).toBe(200);

  const started = Date.now();
  await controlPlaneDatabase.stop();
  step('control plane database stopped');
  const away = await listDestinations();
  expect(away.status).toBe(503);
  expect(away.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(away.headers.get('retry-after')).toBe('5');
  expect(((await away.json()) as { type: string }).type).toMatch(/database-unavailable$/);
  const ready = await fetch(pipeline.url('control-plane', '/readyz'));
  expect(ready.status).toBe(503);
  await ready.arrayBuffer();

  await controlPlaneDatabase.start();
  const ended = Date.now();
  step('control plane database started again');
  await waitFor('the API to answer again', async () => (await listDestinations()).status === 200, 60_000, 500);
  await waitFor(
    'the control plane ready again',
    async () => (await fetch(pipeline.url('control-plane', '/readyz'))).ok,
  );
  await recovers('control plane PostgreSQL restarted', started, ended);
}, 600_000);

for (const name of ['ingest', 'transformer', 'router', 'control-plane'] satisfies ServiceName[]) {
  test(`${name} killed with SIGKILL and started again`, async () => {
    const started = Date.now();
    step(`${name}: SIGKILL`);
    await pipeline.killAndRestart(name);
    await recovers(`${name} SIGKILLed and restarted`, started, Date.now());
  }, 600_000);
}

test('a webhook destination that refuses for 30 s receives everything once it recovers', async () => {
  const started = Date.now();
  webhook.refusing = true;
  step('webhook refusing');
  await pipeline.acceptsMore(50);
  await waitFor('the router to have met the refusal', async () => webhook.refused > 0);
  // The fault itself: the receiver keeps refusing this long.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, WEBHOOK_REFUSES_MS - (Date.now() - started))));
  webhook.refusing = false;
  const ended = Date.now();
  step(`webhook accepting again (refused ${webhook.refused} requests)`);
  await recovers('webhook refusing for 30 s', started, ended);
  const expected = [...pipeline.accepted];
  await waitFor(
    'every accepted metric at the webhook',
    async () => {
      const missing = expected.filter((id) => !webhook.ids.has(id)).length;
      if (missing > 0) throw new Error(`${missing} missing`);
      return true;
    },
    DELIVERY_BOUND_MS,
    1_000,
  );
  const figure = `webhook: every accepted metric received ${((Date.now() - ended) / 1000).toFixed(1)} s after it recovered`;
  figures.push(figure);
  step(figure);
  // Nothing was dead-lettered by the refusal: the router's DLQ counter for the webhook stayed at zero.
  const metrics = await (await fetch(pipeline.url('router', '/metrics'))).text();
  expect(metrics).toMatch(/muxly_router_failed_attempts_total\{[^}]*destination="hook"[^}]*\} [1-9]/);
  expect(metrics).not.toMatch(/muxly_router_dead_lettered_total\{[^}]*destination="hook"[^}]*\} [1-9]/);
}, 600_000);
