import { signWebhook } from './signature.ts';
import { customConnector, startCluster, type Cluster } from '../scheduler/cluster.test-support.ts';

// The webhook signature rules against a real database, with two control-plane instances sharing
// it: only a correctly signed, fresh, first delivery starts an execution, and it starts one.

const SECRET = 'first-secret-0123456789abcdef';
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster(2);
  expect((await cluster.api(0, 'POST', '/api/v1/connectors', customConnector('src'))).status).toBe(201);
  expect((await cluster.api(0, 'POST', '/api/v1/jobs', { id: 'pull', name: 'pull', connectorId: 'src' })).status).toBe(
    201,
  );
  expect(
    (
      await cluster.api(0, 'POST', '/api/v1/webhook-triggers', {
        id: 'hook',
        jobId: 'pull',
        path: 'sources/crm',
        secret: SECRET,
      })
    ).status,
  ).toBe(201);
});

afterAll(async () => {
  await cluster?.close();
});

const body = JSON.stringify({ event: 'export.ready', params: { fullResync: true } });
let sequence = 0;
function signed(options: { secret?: string; timestamp?: number; deliveryId?: string; payload?: string } = {}) {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const payload = options.payload ?? body;
  const deliveryId = options.deliveryId ?? `dlv-${Date.now()}-${(sequence += 1)}`;
  return {
    payload,
    headers: {
      'content-type': 'application/json',
      'muxly-delivery-id': deliveryId,
      'muxly-timestamp': String(timestamp),
      'muxly-signature': `v1=${signWebhook(options.secret ?? SECRET, deliveryId, timestamp, payload)}`,
    },
  };
}

async function deliver(
  instance: number,
  request: { payload: string; headers: Record<string, string> },
  path = 'sources/crm',
) {
  const response = await fetch(`http://127.0.0.1:${cluster.instances[instance]!.port}/hooks/${path}`, {
    method: 'POST',
    headers: request.headers,
    body: request.payload,
  });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

const webhookExecutions = async () =>
  (await cluster.db.query(`select id, params from job_executions where triggered_by = 'webhook' order by created_at`))
    .rows;

test('a valid delivery starts one execution with the params from the body', async () => {
  const before = (await webhookExecutions()).length;
  const answer = await deliver(0, signed());
  expect(answer.status).toBe(202);
  expect(answer.body).toMatchObject({ jobId: 'pull', status: 'queued', executionId: expect.stringMatching(/^exe_/) });
  const rows = await webhookExecutions();
  expect(rows).toHaveLength(before + 1);
  expect(rows.at(-1)).toMatchObject({ id: answer.body.executionId, params: { fullResync: true } });
  const execution = await cluster.api(1, 'GET', `/api/v1/executions/${String(answer.body.executionId)}`);
  expect(execution.body).toMatchObject({ jobId: 'pull', triggeredBy: 'webhook', attempt: 1 });
});

test.each([
  ['a bad signature', () => signed({ secret: 'not-the-secret-0000000000' }), 401, 'bad-signature'],
  ['a body changed after signing', () => ({ ...signed(), payload: '{"event":"tampered"}' }), 401, 'bad-signature'],
  ['an expired timestamp', () => signed({ timestamp: Math.floor(Date.now() / 1000) - 301 }), 401, 'stale-webhook'],
  [
    'a timestamp from the future',
    () => signed({ timestamp: Math.floor(Date.now() / 1000) + 301 }),
    401,
    'stale-webhook',
  ],
  [
    'no signature header',
    () => {
      const request = signed();
      delete (request.headers as Record<string, string>)['muxly-signature'];
      return request;
    },
    400,
    'invalid-webhook',
  ],
])('%s is refused with problem+json and runs nothing', async (_name, make, status, type) => {
  const before = (await webhookExecutions()).length;
  const answer = await deliver(1, make());
  expect(answer.status).toBe(status);
  expect(answer.type).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status, type: `https://muxly.dev/problems/${type}` });
  expect(JSON.stringify(answer.body)).not.toContain(SECRET);
  expect(await webhookExecutions()).toHaveLength(before);
});

test('an unknown path gets the same answer as a bad signature, so paths cannot be probed', async () => {
  const unknown = await deliver(0, signed(), 'sources/nothing-here');
  const badSignature = await deliver(0, signed({ secret: 'not-the-secret-0000000000' }));
  expect(unknown).toEqual(badSignature);
  expect(unknown.status).toBe(401);
  expect(unknown.type).toMatch(/^application\/problem\+json/);
  // Malformed headers: also one answer for both.
  const unsigned = { payload: body, headers: { 'content-type': 'application/json' } };
  expect(await deliver(0, unsigned, 'sources/nothing-here')).toEqual(await deliver(0, unsigned));
});

test('a captured delivery replayed under a fresh delivery id is refused and starts nothing', async () => {
  const captured = signed({ deliveryId: 'captured-1' });
  expect((await deliver(0, captured)).status).toBe(202);
  const before = (await webhookExecutions()).length;
  const replay = { ...captured, headers: { ...captured.headers, 'muxly-delivery-id': 'fresh-id-2' } };
  const answer = await deliver(1, replay);
  expect(answer.status).toBe(401);
  expect(answer.type).toMatch(/^application\/problem\+json/);
  expect(answer.body.type).toBe('https://muxly.dev/problems/bad-signature');
  expect(await webhookExecutions()).toHaveLength(before);
});

test('a replayed delivery id is refused on either instance', async () => {
  const request = signed({ deliveryId: 'replay-me-1' });
  expect((await deliver(0, request)).status).toBe(202);
  const before = (await webhookExecutions()).length;
  const again = await deliver(0, request);
  expect(again.status).toBe(409);
  expect(again.body.type).toBe('https://muxly.dev/problems/replayed-delivery');
  expect((await deliver(1, request)).status).toBe(409);
  expect(await webhookExecutions()).toHaveLength(before);
});

test('the same delivery sent to both instances at once starts exactly one execution', async () => {
  for (let round = 0; round < 5; round += 1) {
    const request = signed({ deliveryId: `race-${round}` });
    const before = (await webhookExecutions()).length;
    const answers = await Promise.all([
      deliver(0, request),
      deliver(1, request),
      deliver(0, request),
      deliver(1, request),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([202, 409, 409, 409]);
    expect(await webhookExecutions()).toHaveLength(before + 1);
  }
});

test('during a secret rotation the old and the new secret work; the old one stops after the grace period', async () => {
  const NEW_SECRET = 'second-secret-0123456789abcdef';
  const current = await cluster.api(0, 'GET', '/api/v1/webhook-triggers/hook');
  const patched = await cluster.api(
    0,
    'PATCH',
    '/api/v1/webhook-triggers/hook',
    { secret: NEW_SECRET },
    { 'if-match': current.headers.get('etag')! },
  );
  expect(patched.status).toBe(200);
  expect((await deliver(1, signed({ secret: NEW_SECRET }))).status).toBe(202);
  expect((await deliver(0, signed({ secret: SECRET }))).status).toBe(202);
  expect((await deliver(0, signed({ secret: 'never-the-secret-000000000' }))).status).toBe(401);
  // Past the grace period (a day by default), only the new secret passes.
  await cluster.db.query(`update webhook_triggers set secret_rotated_at = now() - interval '2 days' where id = 'hook'`);
  expect((await deliver(0, signed({ secret: SECRET }))).status).toBe(401);
  expect((await deliver(1, signed({ secret: NEW_SECRET }))).status).toBe(202);
});

test('a disabled trigger runs nothing', async () => {
  const current = await cluster.api(0, 'GET', '/api/v1/webhook-triggers/hook');
  expect(
    (
      await cluster.api(
        0,
        'PATCH',
        '/api/v1/webhook-triggers/hook',
        { enabled: false },
        { 'if-match': current.headers.get('etag')! },
      )
    ).status,
  ).toBe(200);
  const before = (await webhookExecutions()).length;
  const answer = await deliver(0, signed({ secret: 'second-secret-0123456789abcdef' }));
  expect(answer.status).toBe(409);
  expect(answer.body.type).toBe('https://muxly.dev/problems/trigger-disabled');
  expect(await webhookExecutions()).toHaveLength(before);
});
