import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { waitFor } from '../../test/support/services.ts';
import { idsInFile, produceEvent, startWithRouter, type ControlPlaneWithRouter } from './events.ts';
import { expectProblem, type Harness } from './harness.ts';

// A backfill sends the events of a time range again to ONE destination, as a job with progress:
// the destination beside it, routed by the same rule, does not get them a second time.

describe('backfilling a destination', () => {
  let h: Harness;
  let producer: Producer;
  let directory: string;
  let eventsTopic: string;
  let stack: ControlPlaneWithRouter | undefined;

  beforeAll(async () => {
    stack = await startWithRouter('backfill');
    ({ h, producer, directory, eventsTopic } = stack);
  });
  afterAll(async () => stack?.close());

  it('delivers the events of the range again to that destination only, with progress', async () => {
    for (const id of ['a', 'b'])
      expect(
        (await h.api('POST', '/api/v1/destinations', { id, name: id, type: 'file', config: { path: `${id}.jsonl` } }))
          .status,
      ).toBe(201);
    expect(
      (await h.api('POST', '/api/v1/routing-rules', { id: 'all', name: 'all', destinationIds: ['a', 'b'] })).status,
    ).toBe(201);
    const sent: string[] = [];
    await waitFor('events in both destinations', async () => {
      sent.push(await produceEvent(producer, eventsTopic, 'order'));
      const [inA, inB] = [await idsInFile(join(directory, 'a.jsonl')), await idsInFile(join(directory, 'b.jsonl'))];
      return sent.some((id) => inA.includes(id) && inB.includes(id));
    });
    const from = new Date().toISOString();
    const ranged = [
      await produceEvent(producer, eventsTopic, 'order'),
      await produceEvent(producer, eventsTopic, 'order'),
    ];
    await waitFor('the ranged events in both', async () => {
      const [inA, inB] = [await idsInFile(join(directory, 'a.jsonl')), await idsInFile(join(directory, 'b.jsonl'))];
      return ranged.every((id) => inA.includes(id) && inB.includes(id));
    });

    const started = await h.api('POST', '/api/v1/destinations/a/backfill', { from });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      kind: 'backfill',
      status: 'running',
      selection: { destinationId: 'a', from },
    });
    expect(started.body.progress.total).toBeGreaterThanOrEqual(2);
    const done = await waitFor('the backfill to end', async () => {
      const answer = await h.api('GET', `/api/v1/replays/${started.body.id}`);
      return answer.body.status === 'running' ? undefined : answer.body;
    });
    expect(done).toMatchObject({ kind: 'backfill', status: 'succeeded' });
    expect(done.progress.delivered).toBe(done.progress.total);
    expect(done.progress.awaitingReports).toBe(0);

    const inA = await idsInFile(join(directory, 'a.jsonl'));
    const inB = await idsInFile(join(directory, 'b.jsonl'));
    for (const id of ranged) {
      expect(inA.filter((one) => one === id)).toHaveLength(2);
      expect(inB.filter((one) => one === id)).toHaveLength(1);
    }
    const listed = await h.api('GET', '/api/v1/replays');
    expect(listed.body.items.map((item: { id: string }) => item.id)).toContain(started.body.id);
  });

  it('refuses an unknown destination, a disabled one and a range that ends before it starts', async () => {
    expectProblem(await h.api('POST', '/api/v1/destinations/nope/backfill', { from: new Date().toISOString() }), 404);
    expectProblem(
      await h.api('POST', '/api/v1/destinations/a/backfill', {
        from: '2026-12-01T10:00:00Z',
        to: '2026-12-01T09:00:00Z',
      }),
      400,
    );
    const current = await h.api('GET', '/api/v1/destinations/b');
    const disabled = await h.api(
      'PATCH',
      '/api/v1/destinations/b',
      { enabled: false },
      { 'if-match': current.headers.get('etag')! },
    );
    expect(disabled.status).toBe(200);
    expectProblem(await h.api('POST', '/api/v1/destinations/b/backfill', { from: '2026-12-01T09:00:00Z' }), 409);
  });
});
