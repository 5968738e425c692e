import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { createLogger, encodeWireFormat, topicNames } from '@muxly/common';
import { startRouter, type RouterService } from '@muxly/router';
import { followLiveConfig, type LiveConfig } from '../../../router/src/config/live-config.ts';
import { waitFor } from '../../../test/support/services.ts';
import { loadTemplates } from '../../src/templates/sources.ts';
import { idsInFile, produceEvent } from '../events.ts';
import { expectProblem, startHarness, type Harness } from '../harness.ts';

// Finding 7 (ReDoS): an editor saves a rule whose `matches` pattern backtracks exponentially in
// JavaScript's engine, then a writer sends an event that triggers it. With RE2 semantics the
// event is evaluated in linear time: the router keeps delivering, and the dry-run answers.

const logger = createLogger({ service: 'redos-test', level: 'error', silent: true });
const CATASTROPHIC = '^(a+)+$';
// Far more than the 28 characters that took 1.8 s with the backtracking engine.
const POISON = `${'a'.repeat(30_000)}!`;

describe('a catastrophic regular expression cannot stall the router', () => {
  let h: Harness;
  let router: RouterService;
  let live: LiveConfig;
  let producer: Producer;
  let directory: string;
  let eventsTopic: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'muxly-redos-'));
    h = await startHarness({
      templates: await loadTemplates(logger),
      settings: { outbound: { fileBaseDirectory: directory } },
    });
    const routerSettings = {
      ...h.settings,
      router: {
        ...h.settings.router,
        health: { host: '127.0.0.1', port: 0 },
        groupIdPrefix: `test-redos-${randomBytes(4).toString('hex')}.`,
      },
    };
    router = await startRouter(routerSettings, logger);
    live = await followLiveConfig(routerSettings, (pipeline) => router.apply(pipeline), logger);
    eventsTopic = topicNames(h.settings.topics.prefix).events;
    producer = h.service.kafka.producer();
    await producer.connect();
    const created = await h.api('POST', '/api/v1/destinations', {
      id: 'files',
      name: 'files',
      type: 'file',
      config: { path: 'files.jsonl', fsync: false },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await producer?.disconnect();
    await live?.stop();
    await router?.stop();
    await h?.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function producePoison(): Promise<string> {
    const id = randomUUID();
    const now = new Date().toISOString();
    const event = {
      id,
      schemaVersion: 1,
      kind: 'event',
      name: 'poison',
      timestamp: now,
      receivedAt: now,
      source: { type: 'api', id: 'test' },
      dimensions: {},
      attributes: { s: POISON },
    };
    await producer.send({
      topic: eventsTopic,
      acks: -1,
      messages: [{ key: 'poison', value: encodeWireFormat(1, event) }],
    });
    return id;
  }

  it('refuses patterns RE2 cannot run, naming the field', async () => {
    const refused = expectProblem(
      await h.api('POST', '/api/v1/routing-rules', {
        name: 'backref',
        condition: { path: '$.name', op: 'matches', value: '(a)\\1' },
        destinationIds: ['files'],
      }),
      422,
    );
    expect(refused.errors[0].pointer).toBe('/condition/value');
    expect(refused.errors[0].detail).toContain('RE2');
    expect((await h.api('GET', '/api/v1/routing-rules')).body.items).toEqual([]);
  });

  it('keeps delivering other events after the poison event', async () => {
    const rule = await h.api('POST', '/api/v1/routing-rules', {
      id: 'as',
      name: 'as',
      condition: {
        any: [
          { path: '$.attributes.s', op: 'matches', value: CATASTROPHIC },
          { path: '$.name', op: 'eq', value: 'signup' },
        ],
      },
      destinationIds: ['files'],
    });
    expect(rule.status).toBe(201);

    // The router applies the rule when the config arrives: send signups until one is delivered.
    const sent: string[] = [];
    await waitFor('a signup delivered', async () => {
      sent.push(await produceEvent(producer, eventsTopic, 'signup'));
      const delivered = await idsInFile(join(directory, 'files.jsonl'));
      return sent.some((id) => delivered.includes(id));
    });

    const poison = await producePoison();
    const after = await produceEvent(producer, eventsTopic, 'signup');
    // The signup written after the poison event arrives: the poison event was evaluated (and did
    // not match: it ends with "!") without holding the router's event loop.
    await waitFor('the signup after the poison event', async () =>
      (await idsInFile(join(directory, 'files.jsonl'))).includes(after),
    );
    expect(await idsInFile(join(directory, 'files.jsonl'))).not.toContain(poison);

    // The dry-run runs the same compiler over the same events, the poison one included, and answers.
    const dryRun = await h.api('POST', '/api/v1/routing-rules/dry-run', {
      rule: { condition: { path: '$.attributes.s', op: 'matches', value: CATASTROPHIC }, destinationIds: [] },
      window: { lastEvents: 2 },
    });
    expect(dryRun.status).toBe(200);
    expect(dryRun.body).toMatchObject({ scanned: 2, matched: 0, notMatched: 2, failed: 0 });
  });
});
