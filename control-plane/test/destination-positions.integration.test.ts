import { join } from 'node:path';
import type { Admin, Producer } from 'kafkajs';
import { loadSettings, parseLaneMarker } from '@muxly/common';
import { waitFor } from '../../test/support/services.ts';
import { reconcilePipeline } from '../src/seed/reconcile.ts';
import { idsInFile, produceEvent, startWithRouter, type ControlPlaneWithRouter } from './events.ts';
import { expectProblem, type Harness } from './harness.ts';

// Where a destination starts: a new one gets only what is posted after it was created (not the
// week of history the topic keeps) unless it asks for `earliest` or a time; deleting one removes
// its consumer group once the router's worker left it.

describe('destination start positions', () => {
  let h: Harness;
  let producer: Producer;
  let admin: Admin;
  let directory: string;
  let eventsTopic: string;
  let groupIdPrefix: string;
  let stack: ControlPlaneWithRouter | undefined;

  beforeAll(async () => {
    stack = await startWithRouter('positions');
    ({ h, producer, directory, eventsTopic, groupIdPrefix } = stack);
    admin = h.service.kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
    await stack?.close();
  });

  const fileOf = (name: string) => join(directory, `${name}.jsonl`);
  const idsIn = (name: string): Promise<string[]> => idsInFile(fileOf(name));
  const produce = (name: string): Promise<string> => produceEvent(producer, eventsTopic, name);
  const createFile = async (name: string, startFrom?: string) => {
    const created = await h.api('POST', '/api/v1/destinations', {
      id: name,
      name,
      type: 'file',
      config: { path: `${name}.jsonl`, fsync: false },
      // Enabled only once the rule exists: an event read before the router knows the rule is filtered.
      enabled: false,
      ...(startFrom ? { startFrom } : {}),
    });
    expect(created.status).toBe(201);
  };
  const enable = async (name: string) => {
    const current = await h.api('GET', `/api/v1/destinations/${name}`);
    const enabled = await h.api(
      'PATCH',
      `/api/v1/destinations/${name}`,
      { enabled: true },
      { 'if-match': current.headers.get('etag')! },
    );
    expect(enabled.status).toBe(200);
  };

  let before: string;

  it('starts a new destination from now unless it asks for earliest or a time', async () => {
    before = await produce('signup');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const between = new Date().toISOString();
    const after = await produce('signup');

    await createFile('fresh');
    await createFile('history', 'earliest');
    await createFile('since', between);
    const rule = await h.api('POST', '/api/v1/routing-rules', {
      id: 'all',
      name: 'all',
      destinationIds: ['fresh', 'history', 'since'],
    });
    expect(rule.status).toBe(201);
    for (const name of ['fresh', 'history', 'since']) await enable(name);

    await waitFor('the older events in "history"', async () => {
      const ids = await idsIn('history');
      return ids.includes(before) && ids.includes(after);
    });
    await waitFor('the event after the time in "since"', async () => (await idsIn('since')).includes(after));
    // A marker posted now reaches "fresh" (and "since"): what came before it was seen, and skipped.
    const probes: string[] = [];
    await waitFor('a probe in "fresh"', async () => {
      probes.push(await produce('probe'));
      const ids = await idsIn('fresh');
      return probes.some((id) => ids.includes(id));
    });
    await waitFor('the probes in "since"', async () => {
      const ids = await idsIn('since');
      return probes.some((id) => ids.includes(id));
    });
    expect((await idsIn('fresh')).filter((id) => id === before || id === after)).toEqual([]);
    expect((await idsIn('since')).includes(before)).toBe(false);
  });

  it('moves a disabled destination when it is enabled again, and refuses while it runs', async () => {
    const running = await h.api('GET', '/api/v1/destinations/fresh');
    const refused = await h.api(
      'PATCH',
      '/api/v1/destinations/fresh',
      { startFrom: 'now' },
      { 'if-match': running.headers.get('etag')! },
    );
    expectProblem(refused, 422);

    // The router delivers "since" without joining its group: its lane's marker says it runs, and
    // moving its position underneath is refused.
    const positions = h.service.context.positions!;
    expect((await admin.describeGroups([`${groupIdPrefix}since`])).groups[0]?.members).toEqual([]);
    await waitFor('the lane of "since" to be seen running', () => positions.isRunning('since'));
    await expect(positions.startFrom('since', 'now')).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/a router is delivering it/),
    });

    // Disabled, then enabled again from "earliest": a backfill of everything retained.
    const disabled = await h.api(
      'PATCH',
      '/api/v1/destinations/since',
      { enabled: false },
      { 'if-match': (await h.api('GET', '/api/v1/destinations/since')).headers.get('etag')! },
    );
    expect(disabled.status).toBe(200);
    const groupId = `${groupIdPrefix}since`;
    await waitFor('the worker of "since" to stop', async () => !(await positions.isRunning('since')));
    // It stopped by saying so (its last commit), not by its marker getting old.
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [eventsTopic] });
    expect(offsets!.partitions.map((partition) => parseLaneMarker(partition.metadata)?.state)).toEqual(['stopped']);
    const backfill = await h.api(
      'PATCH',
      '/api/v1/destinations/since',
      { enabled: true, startFrom: 'earliest' },
      { 'if-match': disabled.headers.get('etag')! },
    );
    expect(backfill.status).toBe(200);
    await waitFor('the older event in "since" after the backfill', async () => (await idsIn('since')).includes(before));
  });

  it('starts a destination of the settings seed from now, like one created through the API', async () => {
    const before = await produce('seed');
    const seed = loadSettings({
      env: {},
      overrides: {
        pipeline: {
          destinations: [{ id: 'seeded', type: 'file', config: { path: 'seeded.jsonl', fsync: false } }],
          rules: [{ id: 'to-seeded', destinationIds: ['seeded'] }],
        },
      },
    }).pipeline;
    expect((await reconcilePipeline(h.service.context, seed)).created).toBe(2);
    const sent: string[] = [];
    await waitFor('an event in the seeded destination', async () => {
      sent.push(await produce('seed'));
      return (await idsIn('seeded')).length > 0;
    });
    expect(await idsIn('seeded')).not.toContain(before);
    expect(sent).toContain((await idsIn('seeded'))[0]);
  });

  it("removes a deleted destination's consumer group once its worker left", async () => {
    const groupId = `${groupIdPrefix}fresh`;
    const groups = async () => (await admin.listGroups()).groups.map((group) => group.groupId);
    expect(await groups()).toContain(groupId);
    const rule = await h.api('GET', '/api/v1/routing-rules/all');
    const changed = await h.api(
      'PATCH',
      '/api/v1/routing-rules/all',
      { destinationIds: ['history', 'since'] },
      { 'if-match': rule.headers.get('etag')! },
    );
    expect(changed.status).toBe(200);
    expect((await h.api('DELETE', '/api/v1/destinations/fresh')).status).toBe(204);
    await waitFor('the consumer group to be removed', async () => !(await groups()).includes(groupId), 60_000);
  });
});
