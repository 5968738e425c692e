import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { createLogger, topicNames, type MuxlySettings } from '@muxly/common';
import { startRouter, type RouterService } from '@muxly/router';
import { followLiveConfig, type LiveConfig } from '../../router/src/config/live-config.ts';
import { loadTemplates } from '../src/templates/sources.ts';
import { idsInFile, produceEvent } from './events.ts';
import { startHarness, type Harness } from './harness.ts';
import { waitFor } from '../../test/support/services.ts';

// The whole live-configuration path, with the real router: a routing rule changed through the
// API reaches the router over the config topic and changes where events go, without a restart.

const logger = createLogger({ service: 'live-router-test', level: 'error', silent: true });

describe('a rule changed through the API changes the running router', () => {
  let h: Harness;
  let router: RouterService;
  let live: LiveConfig;
  let producer: Producer;
  let directory: string;
  let eventsTopic: string;
  let routerSettings: MuxlySettings;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'muxly-live-'));
    h = await startHarness({
      templates: await loadTemplates(logger),
      settings: { outbound: { fileBaseDirectory: directory } },
    });
    routerSettings = {
      ...h.settings,
      router: {
        ...h.settings.router,
        health: { host: '127.0.0.1', port: 0 },
        groupIdPrefix: `test-live-${randomBytes(4).toString('hex')}.`,
      },
    };
    router = await startRouter(routerSettings, logger);
    live = await followLiveConfig(routerSettings, (pipeline) => router.apply(pipeline), logger);
    eventsTopic = topicNames(h.settings.topics.prefix).events;
    producer = h.service.kafka.producer();
    await producer.connect();
  });
  afterAll(async () => {
    await producer?.disconnect();
    await live?.stop();
    await router?.stop();
    await h?.close();
    await rm(directory, { recursive: true, force: true });
  });

  const fileOf = (name: string) => join(directory, `${name}.jsonl`);
  const idsIn = (name: string): Promise<string[]> => idsInFile(fileOf(name));
  const produce = (name: string): Promise<string> => produceEvent(producer, eventsTopic, name);
  const until = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000) =>
    waitFor(what, check, timeoutMs, 200);

  it('routes to the new destination within seconds of the PATCH', async () => {
    for (const name of ['a', 'b']) {
      const created = await h.api('POST', '/api/v1/destinations', {
        id: `files-${name}`,
        name: `files-${name}`,
        type: 'file',
        config: { path: `${name}.jsonl`, fsync: false },
      });
      expect(created.status).toBe(201);
    }
    const rule = await h.api('POST', '/api/v1/routing-rules', {
      id: 'signups',
      name: 'signups',
      condition: { path: '$.name', op: 'eq', value: 'signup' },
      destinationIds: ['files-a'],
    });
    expect(rule.status).toBe(201);

    // NOTE: the router evaluates rules when it consumes an event, so an event consumed before the
    // router applied the new rule is (rightly) filtered. Send until one arrives.
    const sent: string[] = [];
    const first = await until('a signup in files-a', async () => {
      sent.push(await produce('signup'));
      const inA = await idsIn('a');
      return sent.find((id) => inA.includes(id));
    });

    const changed = await h.api(
      'PATCH',
      '/api/v1/routing-rules/signups',
      { destinationIds: ['files-b'] },
      { 'if-match': rule.headers.get('etag')! },
    );
    expect(changed.status).toBe(200);
    // Keep sending until one lands in files-b: that is the router applying the new rule.
    const probes: string[] = [];
    await until(
      'a signup in files-b after the change',
      async () => {
        probes.push(await produce('signup'));
        const inB = await idsIn('b');
        return probes.some((id) => inB.includes(id)) ? true : undefined;
      },
      20_000,
    );

    // From now on files-a gets no signups: a last one goes to b only.
    const last = await produce('signup');
    const other = await produce('pageview');
    await until('the last signup in files-b', async () => ((await idsIn('b')).includes(last) ? true : undefined));
    const admin = h.service.kafka.admin();
    await admin.connect();
    try {
      // Wait until files-a's consumer has moved past the last events too, then look at its file.
      const end = BigInt((await admin.fetchTopicOffsets(eventsTopic))[0]!.high);
      await until('files-a to consume everything', async () => {
        const [offsets] = await admin.fetchOffsets({
          groupId: `${routerSettings.router.groupIdPrefix}files-a`,
          topics: [eventsTopic],
        });
        return BigInt(offsets?.partitions[0]?.offset ?? '-1') >= end ? true : undefined;
      });
    } finally {
      await admin.disconnect();
    }
    const inA = await idsIn('a');
    expect(inA).toContain(first);
    expect(inA).not.toContain(last);
    expect([...inA, ...(await idsIn('b'))]).not.toContain(other);
  });
});
