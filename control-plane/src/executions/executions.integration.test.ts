import type { Consumer, Producer } from 'kafkajs';
import { SecretKeyring } from '@muxly/common';
import type { JobCommand, JobResult, RunCommand } from '@muxly/schemas';
import { customConnector, eventually, startCluster, type Cluster } from '../scheduler/cluster.test-support.ts';

// Executions against a real database and Kafka with two control-plane instances sharing them.
// This test plays ingest: it reads <prefix>commands and answers on <prefix>job-results, so the
// control plane's side of the protocol (docs/scheduling.md) is checked message by message.

let cluster: Cluster;
let consumer: Consumer;
let producer: Producer;
const commands: JobCommand[] = [];

beforeAll(async () => {
  cluster = await startCluster(2);
  const kafka = cluster.instances[0]!.kafka;
  consumer = kafka.consumer({ groupId: `${cluster.topics.commands}.fake-ingest` });
  await consumer.connect();
  await consumer.subscribe({ topic: cluster.topics.commands, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => void commands.push(JSON.parse(message.value!.toString()) as JobCommand),
  });
  producer = kafka.producer();
  await producer.connect();
  const connector = { ...customConnector('src'), credentials: { token: 'very-secret-token' } };
  expect((await cluster.api(0, 'POST', '/api/v1/connectors', connector)).status).toBe(201);
});

afterAll(async () => {
  await consumer?.disconnect();
  await producer?.disconnect();
  await cluster?.close();
});

const runCommand = (executionId: string) =>
  eventually(`the run command of ${executionId}`, async () =>
    commands.find((command): command is RunCommand => command.type === 'run' && command.executionId === executionId),
  );
const report = async (command: RunCommand, type: JobResult['type'], extra: Partial<JobResult> = {}) => {
  const result: JobResult = {
    resultVersion: 1,
    type,
    executionId: command.executionId,
    jobId: command.jobId,
    connectorId: command.connector.id,
    attempt: command.attempt,
    at: new Date().toISOString(),
    progress: { pages: 0, records: 0, cursor: command.cursor },
    ...extra,
  };
  await producer.send({
    topic: cluster.topics.jobResults,
    messages: [{ key: command.executionId, value: JSON.stringify(result) }],
  });
};
const execution = async (id: string) => (await cluster.api(1, 'GET', `/api/v1/executions/${id}`)).body;
const statusOf = (id: string, status: string) =>
  eventually(`execution ${id} to be ${status}`, async () =>
    (await execution(id)).status === status ? execution(id) : undefined,
  );

test('a run is dispatched with the stored cursor, shows progress, and its success stores the next cursor', async () => {
  expect(
    (
      await cluster.api(0, 'POST', '/api/v1/jobs', {
        id: 'sync',
        name: 'sync',
        connectorId: 'src',
        params: { region: 'eu' },
      })
    ).status,
  ).toBe(201);
  const run = await cluster.api(0, 'POST', '/api/v1/jobs/sync/run', { params: { window: 'today' } });
  expect(run.status).toBe(202);
  const command = await runCommand(run.body.id);
  expect(command).toMatchObject({
    jobId: 'sync',
    attempt: 1,
    action: 'sync',
    params: { region: 'eu', window: 'today' },
    cursor: null,
    connector: { id: 'src', type: 'custom' },
  });
  // Credentials travel encrypted under the platform key, never in clear.
  expect(JSON.stringify(command)).not.toContain('very-secret-token');
  expect(command.connector.credentials).toMatchObject({ $encrypted: expect.anything() });

  await report(command, 'started');
  await report(command, 'progress', { progress: { pages: 1, records: 2, cursor: { value: 'a' } } });
  const running = await eventually('progress to show', async () =>
    (await execution(run.body.id)).progress?.records === 2 ? execution(run.body.id) : undefined,
  );
  expect(running).toMatchObject({ status: 'running', progress: { pages: 1, records: 2, cursor: { value: 'a' } } });
  expect(running.startedAt).not.toBeNull();

  const done = {
    progress: { pages: 2, records: 3, cursor: { value: 'b' } },
    counts: { recordsRead: 3, recordsPublished: 3, pages: 2, streams: { items: 3 } },
  };
  await report(command, 'succeeded', done);
  const succeeded = await statusOf(run.body.id, 'succeeded');
  expect(succeeded).toMatchObject({ counts: done.counts, error: null });
  expect((await cluster.db.query(`select state from connectors where id = 'src'`)).rows[0].state).toMatchObject({
    cursor: { value: 'b' },
    executionId: run.body.id,
  });
  // A redelivered result changes nothing.
  await report(command, 'failed', { error: { message: 'late duplicate', errorClass: 'Error', retryable: true } });

  const next = await cluster.api(1, 'POST', '/api/v1/jobs/sync/run');
  expect((await runCommand(next.body.id)).cursor).toEqual({ value: 'b' });
  await report(await runCommand(next.body.id), 'succeeded', {
    progress: { pages: 1, records: 0, cursor: { value: 'b' } },
    counts: { recordsRead: 0, recordsPublished: 0, pages: 1, streams: {} },
  });
  await statusOf(next.body.id, 'succeeded');
  // The job-results topic has one partition, read in order: the next run's result was applied after
  // the duplicate, so the duplicate has been handled by now.
  expect(await execution(run.body.id)).toMatchObject({ status: 'succeeded', error: null });
  expect((await cluster.api(0, 'GET', '/api/v1/jobs/sync/executions?triggeredBy=retry')).body.items).toEqual([]);
});

test('a run past its timeout is timed out, cancelled in ingest, retried, and the last failure says retries are exhausted', async () => {
  expect(
    (
      await cluster.api(0, 'POST', '/api/v1/jobs', {
        id: 'slow',
        name: 'slow',
        connectorId: 'src',
        timeoutSeconds: 1,
        maxRetries: 1,
        backoff: { initialSeconds: 1 },
      })
    ).status,
  ).toBe(201);
  const run = await cluster.api(0, 'POST', '/api/v1/jobs/slow/run');
  const first = await runCommand(run.body.id);
  await report(first, 'started');
  const timedOut = await statusOf(run.body.id, 'timed_out');
  expect(timedOut.error).toContain('timed out');
  await eventually('the cancel command', async () =>
    commands.find(
      (command) => command.type === 'cancel' && command.executionId === run.body.id && command.reason === 'timed_out',
    ),
  );

  const retry = await eventually('the retry', async () => {
    const items = (await cluster.api(0, 'GET', '/api/v1/jobs/slow/executions?triggeredBy=retry')).body.items;
    return items.length > 0 ? items[0] : undefined;
  });
  expect(retry).toMatchObject({ attempt: 2, triggeredBy: 'retry' });
  const second = await runCommand(retry.id);
  expect(second.attempt).toBe(2);
  // The first attempt's late report is recorded as counts but does not revive it.
  await report(first, 'succeeded', {
    counts: { recordsRead: 1, recordsPublished: 1, pages: 1, streams: { items: 1 } },
    progress: { pages: 1, records: 1, cursor: { value: 'c' } },
  });
  await eventually('the late counts', async () => (await execution(run.body.id)).counts.recordsPublished === 1);
  expect((await execution(run.body.id)).status).toBe('timed_out');

  await report(second, 'failed', {
    error: { message: 'HTTP 503 from the source', errorClass: 'RetryableError', retryable: true },
  });
  const failed = await statusOf(retry.id, 'failed');
  expect(failed.error).toBe('HTTP 503 from the source (retries exhausted after 2 attempts)');
  // "retries exhausted" is written in the transaction that would have queued a third attempt: none can come later.
  expect((await cluster.api(0, 'GET', '/api/v1/jobs/slow/executions')).body.items).toHaveLength(2);
});

test('a cron schedule fired by two instances starts exactly one execution per tick, and none are missed', async () => {
  expect(
    (
      await cluster.api(0, 'POST', '/api/v1/jobs', {
        id: 'tick',
        name: 'tick',
        connectorId: 'src',
        schedule: '*/2 * * * * *',
      })
    ).status,
  ).toBe(201);
  await eventually(
    'four ticks',
    async () =>
      (await cluster.db.query(`select count(*)::int as n from job_executions where job_id = 'tick'`)).rows[0].n >= 4,
    30_000,
  );
  const current = await cluster.api(1, 'GET', '/api/v1/jobs/tick');
  expect(current.body.nextRunAt).not.toBeNull();
  expect(
    (
      await cluster.api(
        1,
        'PATCH',
        '/api/v1/jobs/tick',
        { enabled: false },
        { 'if-match': current.headers.get('etag')! },
      )
    ).status,
  ).toBe(200);
  expect((await cluster.api(1, 'GET', '/api/v1/jobs/tick')).body).toMatchObject({ nextRunAt: null, nextRuns: [] });
  const disabledAt = Date.now();
  // A tick due before the change may still land (an instance read "enabled" just before it); a
  // tick due after it may not. A job created after the change, on the same schedule, is the marker:
  // once both instances have fired two of its ticks, they have passed ticks due after the change.
  expect(
    (
      await cluster.api(0, 'POST', '/api/v1/jobs', {
        id: 'tick-marker',
        name: 'tick marker',
        connectorId: 'src',
        schedule: '*/2 * * * * *',
      })
    ).status,
  ).toBe(201);
  await eventually(
    'two ticks of the marker job after the change',
    async () =>
      (
        await cluster.db.query(
          `select count(*)::int as n from job_executions where job_id = 'tick-marker' and scheduled_for > $1`,
          [new Date(disabledAt)],
        )
      ).rows[0].n >= 2,
    30_000,
  );
  const marker = await cluster.api(0, 'GET', '/api/v1/jobs/tick-marker');
  await cluster.api(
    0,
    'PATCH',
    '/api/v1/jobs/tick-marker',
    { enabled: false },
    { 'if-match': marker.headers.get('etag')! },
  );
  const rows = (
    await cluster.db.query(
      `select scheduled_for, triggered_by from job_executions where job_id = 'tick' order by scheduled_for`,
    )
  ).rows as { scheduled_for: Date; triggered_by: string }[];
  expect(rows.filter((row) => row.scheduled_for.getTime() > disabledAt)).toEqual([]);
  const instants = rows.map((row) => row.scheduled_for.getTime());
  expect(rows.every((row) => row.triggered_by === 'schedule')).toBe(true);
  expect(new Set(instants).size).toBe(instants.length);
  // Every 2-second tick between the first and the last has exactly one execution.
  expect(instants.length).toBe((instants.at(-1)! - instants[0]!) / 2_000 + 1);
});

test('run and cancel answer problem+json for unknown or finished executions', async () => {
  expect((await cluster.api(0, 'POST', '/api/v1/jobs/ghost/run')).status).toBe(404);
  expect((await cluster.api(0, 'POST', '/api/v1/executions/exe_ghost/cancel')).status).toBe(404);
  const run = await cluster.api(0, 'POST', '/api/v1/jobs/sync/run', { params: { a: 1 } });
  const cancelled = await cluster.api(1, 'POST', `/api/v1/executions/${run.body.id}/cancel`);
  expect(cancelled.body).toMatchObject({ status: 'cancelled', error: 'cancelled on request' });
  await eventually('the cancel command', async () =>
    commands.find((command) => command.type === 'cancel' && command.executionId === run.body.id),
  );
  const again = await cluster.api(0, 'POST', `/api/v1/executions/${run.body.id}/cancel`);
  expect(again.status).toBe(409);
  expect(again.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect((await cluster.api(0, 'POST', '/api/v1/jobs/sync/run', { unknown: true })).status).toBe(400);
});

test('credentials a provider rotated during a run replace the stored ones; ones that do not decrypt for the connector are ignored', async () => {
  const keyring = new SecretKeyring(cluster.settings.controlPlane.secrets);
  const connector = { ...customConnector('rotating'), credentials: { token: 'first-token' } };
  expect((await cluster.api(0, 'POST', '/api/v1/connectors', connector)).status).toBe(201);
  expect(
    (await cluster.api(0, 'POST', '/api/v1/jobs', { id: 'rotating-sync', name: 'rotating', connectorId: 'rotating' }))
      .status,
  ).toBe(201);
  const version = (await cluster.api(0, 'GET', '/api/v1/connectors/rotating')).body.version as number;
  const run = await cluster.api(0, 'POST', '/api/v1/jobs/rotating-sync/run');
  const command = await runCommand(run.body.id);
  // Encrypted for another connector: authentic, but not this connector's.
  await report(command, 'progress', { credentials: keyring.encrypt({ token: 'forged' }, 'connector/src') });
  await report(command, 'progress', { credentials: keyring.encrypt({ token: 'rotated-token' }, 'connector/rotating') });
  const updated = await eventually('the rotated credentials', async () => {
    const current = (await cluster.api(1, 'GET', '/api/v1/connectors/rotating')).body;
    return current.version > version ? current : undefined;
  });
  // One change only (results of one execution arrive in order: the forged one came first).
  expect(updated).toMatchObject({ version: version + 1, credentialsSet: true });
  expect(JSON.stringify(updated)).not.toContain('rotated-token');
  await report(command, 'succeeded', {
    counts: { recordsRead: 0, recordsPublished: 0, pages: 0, streams: {} },
  });
  await statusOf(run.body.id, 'succeeded');

  const next = await runCommand((await cluster.api(1, 'POST', '/api/v1/jobs/rotating-sync/run')).body.id);
  expect(keyring.decrypt(next.connector.credentials as never, 'connector/rotating')).toEqual({
    token: 'rotated-token',
  });
});
