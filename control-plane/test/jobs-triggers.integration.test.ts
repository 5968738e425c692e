import pg from 'pg';
import { expectProblem, startHarness, TEST_KEY, type Harness } from './harness.ts';
import { SecretKeyring } from '@muxly/common';

describe('jobs, executions and webhook triggers API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    expect(
      (
        await h.api('POST', '/api/v1/connectors', {
          id: 'hub',
          name: 'hub',
          type: 'custom',
          config: { baseUrl: 'http://127.0.0.1:1' },
        })
      ).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates jobs with checked schedules, time zones and connectors', async () => {
    const created = await h.api('POST', '/api/v1/jobs', {
      id: 'nightly',
      name: 'Nightly sync',
      connectorId: 'hub',
      schedule: '0 3 * * *',
      timezone: 'Europe/Paris',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      action: 'sync',
      params: {},
      schedule: '0 3 * * *',
      timezone: 'Europe/Paris',
      enabled: true,
      maxRetries: 3,
      backoff: { initialSeconds: 30, maxSeconds: 3600, multiplier: 2 },
      timeoutSeconds: 3600,
      version: 1,
    });
    const read = await h.api('GET', '/api/v1/jobs/nightly');
    expect(read.body).toMatchObject({ id: 'nightly', connectorId: 'hub', version: 1 });
    expectProblem(await h.api('GET', '/api/v1/jobs/ghost'), 404);
    const badCron = expectProblem(
      await h.api('POST', '/api/v1/jobs', { name: 'bad', connectorId: 'hub', schedule: '61 * * * *' }),
      422,
    );
    expect(badCron.errors[0].pointer).toBe('/schedule');
    const badZone = expectProblem(
      await h.api('POST', '/api/v1/jobs', { name: 'bad', connectorId: 'hub', timezone: 'Mars/Olympus' }),
      422,
    );
    expect(badZone.errors[0].pointer).toBe('/timezone');
    const missing = expectProblem(await h.api('POST', '/api/v1/jobs', { name: 'bad', connectorId: 'ghost' }), 422);
    expect(missing.detail).toContain('connector "ghost" does not exist');
    const updated = await h.api(
      'PATCH',
      '/api/v1/jobs/nightly',
      { schedule: null, maxRetries: 0, backoff: { initialSeconds: 5 } },
      { 'if-match': '"1"' },
    );
    expect(updated.body).toMatchObject({
      schedule: null,
      maxRetries: 0,
      backoff: { initialSeconds: 5, maxSeconds: 3600 },
      version: 2,
    });
    expect((await h.api('GET', '/api/v1/jobs?connectorId=hub')).body.items.map((j: { id: string }) => j.id)).toEqual([
      'nightly',
    ]);
    expectProblem(await h.api('DELETE', '/api/v1/connectors/hub'), 409);
  });

  it('lists executions with filters and pagination', async () => {
    const client = new pg.Client({ connectionString: h.database.url });
    await client.connect();
    try {
      const base = Date.parse('2026-01-01T00:00:00Z');
      for (let i = 0; i < 5; i++) {
        await client.query(
          `insert into job_executions (id, job_id, status, attempt, triggered_by, started_at, ended_at, counts, error, created_at)
           values ($1, 'nightly', $2, 1, $3, $4, $5, $6, $7, $4)`,
          [
            `exe_${i}`,
            i % 2 === 0 ? 'succeeded' : 'failed',
            i < 3 ? 'schedule' : 'manual',
            new Date(base + i * 60_000),
            new Date(base + i * 60_000 + 1000),
            { records: i * 10 },
            i % 2 === 0 ? null : 'HTTP 500 from the source',
          ],
        );
      }
    } finally {
      await client.end();
    }
    const all = await h.api('GET', '/api/v1/jobs/nightly/executions?limit=3');
    expect(all.body.items.map((e: { id: string }) => e.id)).toEqual(['exe_4', 'exe_3', 'exe_2']);
    const next = await h.api('GET', `/api/v1/jobs/nightly/executions?limit=3&cursor=${all.body.nextCursor}`);
    expect(next.body.items.map((e: { id: string }) => e.id)).toEqual(['exe_1', 'exe_0']);
    expect(next.body.nextCursor).toBeNull();
    const failed = await h.api('GET', '/api/v1/executions?status=failed&jobId=nightly&sort=createdAt');
    expect(failed.body.items.map((e: { id: string }) => e.id)).toEqual(['exe_1', 'exe_3']);
    expect(failed.body.items[0]).toMatchObject({
      error: 'HTTP 500 from the source',
      counts: { records: 10 },
      triggeredBy: 'schedule',
    });
    const window = await h.api(
      'GET',
      '/api/v1/executions?createdAfter=2026-01-01T00:01:00Z&createdBefore=2026-01-01T00:03:00Z&triggeredBy=schedule',
    );
    if (window.status !== 200) throw new Error(JSON.stringify(window.body));
    expect(window.body.items.map((e: { id: string }) => e.id)).toEqual(['exe_2', 'exe_1']);
    expect((await h.api('GET', '/api/v1/executions/exe_0')).body.status).toBe('succeeded');
    expectProblem(await h.api('GET', '/api/v1/executions/nope'), 404);
    expectProblem(await h.api('GET', '/api/v1/jobs/nope/executions'), 404);
    expectProblem(await h.api('GET', '/api/v1/executions?status=exploded'), 400);
  });

  it('manages webhook triggers with an encrypted, write-only secret', async () => {
    const generated = await h.api('POST', '/api/v1/webhook-triggers', {
      id: 'hook1',
      jobId: 'nightly',
      path: 'hubspot/changed',
    });
    expect(generated.status).toBe(201);
    expect(generated.body).toMatchObject({ path: 'hubspot/changed', secretSet: true, enabled: true });
    expect(generated.body.generatedSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const read = await h.api('GET', '/api/v1/webhook-triggers/hook1');
    expect(read.body.generatedSecret).toBeUndefined();
    expect(JSON.stringify(read.body)).not.toContain(generated.body.generatedSecret);

    const given = await h.api('POST', '/api/v1/webhook-triggers', {
      jobId: 'nightly',
      path: 'other',
      secret: 'a-secret-of-sixteen+',
    });
    expect(given.status).toBe(201);
    expect(given.body.generatedSecret).toBeUndefined();
    expectProblem(await h.api('POST', '/api/v1/webhook-triggers', { jobId: 'nightly', path: 'other' }), 409);
    expectProblem(await h.api('POST', '/api/v1/webhook-triggers', { jobId: 'ghost', path: 'x' }), 422);
    expectProblem(await h.api('POST', '/api/v1/webhook-triggers', { jobId: 'nightly', path: '../etc' }), 400);
    expectProblem(
      await h.api('POST', '/api/v1/webhook-triggers', { jobId: 'nightly', path: 'short', secret: 'tiny' }),
      400,
    );

    // The stored secret decrypts (with the platform key) to what the caller was given.
    const client = new pg.Client({ connectionString: h.database.url });
    await client.connect();
    try {
      const { rows } = await client.query(`select secret from webhook_triggers where id = 'hook1'`);
      expect(new SecretKeyring({ keys: [TEST_KEY] }).decrypt(rows[0].secret, 'webhook-trigger/hook1')).toBe(
        generated.body.generatedSecret,
      );
    } finally {
      await client.end();
    }

    const patched = await h.api(
      'PATCH',
      '/api/v1/webhook-triggers/hook1',
      { enabled: false, path: 'hubspot/changed-v2' },
      { 'if-match': '"1"' },
    );
    expect(patched.body).toMatchObject({ enabled: false, path: 'hubspot/changed-v2', version: 2 });
    expect(
      (await h.api('GET', '/api/v1/webhook-triggers?enabled=false')).body.items.map((t: { id: string }) => t.id),
    ).toEqual(['hook1']);
    const jobInUse = expectProblem(await h.api('DELETE', '/api/v1/jobs/nightly'), 409);
    expect(jobInUse.usedBy).toEqual(expect.arrayContaining([{ kind: 'webhook-trigger', id: 'hook1' }]));
    expect((await h.api('DELETE', '/api/v1/webhook-triggers/hook1')).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/webhook-triggers/${given.body.id}`)).status).toBe(204);
    // Deleting the job takes its execution history with it.
    expect((await h.api('DELETE', '/api/v1/jobs/nightly')).status).toBe(204);
    expect((await h.api('GET', '/api/v1/executions')).body.items).toEqual([]);
  });

  it('has no settings operations any more (the table was read by nothing)', async () => {
    expectProblem(await h.api('GET', '/api/v1/settings'), 404);
    expectProblem(await h.api('PUT', '/api/v1/settings/ui.theme', { value: 1 }), 404);
  });
});
