import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { encodeWireFormat, topicNames } from '@muxly/common';
import { expectProblem, startHarness, type Harness } from './harness.ts';

// A rule dry-run over 10,000 real events on the events topic: the counts are exact, the samples
// show the event before and after the rule's transformations, and nothing moves: no destination
// exists, and the throw-away consumer group is removed.

describe('rule dry-run on real traffic', () => {
  let h: Harness;
  let producer: Producer;
  let eventsTopic: string;
  const TOTAL = 10_000;
  let secondBatchFrom: string;

  beforeAll(async () => {
    h = await startHarness();
    eventsTopic = topicNames(h.settings.topics.prefix).events;
    producer = h.service.kafka.producer();
    await producer.connect();
    const event = (index: number) => {
      const now = new Date().toISOString();
      return {
        id: randomUUID(),
        schemaVersion: 1,
        kind: 'metric',
        name: index % 4 === 0 ? 'signup' : 'pageview',
        timestamp: now,
        receivedAt: now,
        source: { type: 'api', id: 'test' },
        value: index,
        dimensions: { plan: index % 5 === 0 ? 'pro' : 'free' },
        attributes: {},
      };
    };
    // 8,000 first, then 2,000 after a known time (for the time-range window).
    for (let start = 0; start < TOTAL; start += 1_000) {
      if (start === 8_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        secondBatchFrom = new Date().toISOString();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await producer.send({
        topic: eventsTopic,
        acks: -1,
        messages: Array.from({ length: 1_000 }, (_, offset) => ({
          key: String(start + offset),
          value: encodeWireFormat(1, event(start + offset)),
        })),
      });
    }
  });
  afterAll(async () => {
    await producer?.disconnect();
    await h?.close();
  });

  it('counts what a rule would match on the last 10,000 events, with samples before and after', async () => {
    const answer = await h.api('POST', '/api/v1/routing-rules/dry-run', {
      rule: {
        condition: {
          all: [
            { path: '$.name', op: 'eq', value: 'signup' },
            { path: '$.dimensions.plan', op: 'eq', value: 'pro' },
          ],
        },
        transformations: [{ type: 'rename', from: '$.dimensions.plan', to: '$.dimensions.tier' }],
        destinationIds: ['crm', 'slack'],
      },
      window: { lastEvents: TOTAL },
      sampleSize: 3,
    });
    expect(answer.status).toBe(200);
    // index % 4 === 0 and index % 5 === 0: every 20th event.
    expect(answer.body).toMatchObject({
      scanned: TOTAL,
      matched: TOTAL / 20,
      notMatched: TOTAL - TOTAL / 20,
      failed: 0,
      undecodable: 0,
      perDestination: [
        { destinationId: 'crm', matched: TOTAL / 20 },
        { destinationId: 'slack', matched: TOTAL / 20 },
      ],
    });
    expect(answer.body.samples).toHaveLength(3);
    for (const sample of answer.body.samples) {
      expect(sample.before.dimensions).toEqual({ plan: 'pro' });
      expect(sample.after.dimensions).toEqual({ tier: 'pro' });
      expect(sample.after.id).toBe(sample.eventId);
    }
  });

  it('takes a time range and a saved rule, and refuses a rule that does not compile', async () => {
    const archive = await h.api('POST', '/api/v1/destinations', {
      id: 'archive',
      name: 'archive',
      type: 'file',
      enabled: false,
      config: { path: 'never-written.jsonl' },
    });
    expect(archive.status).toBe(201);
    const saved = await h.api('POST', '/api/v1/routing-rules', {
      id: 'signups',
      name: 'signups',
      condition: { path: '$.name', op: 'eq', value: 'signup' },
      destinationIds: ['archive'],
    });
    expect(saved.status).toBe(201);
    const ranged = await h.api('POST', '/api/v1/routing-rules/dry-run', {
      ruleId: 'signups',
      window: { from: secondBatchFrom },
    });
    expect(ranged.status).toBe(200);
    expect(ranged.body).toMatchObject({
      scanned: 2_000,
      matched: 500,
      notMatched: 1_500,
      perDestination: [{ destinationId: 'archive', matched: 500 }],
    });

    const last = await h.api('POST', '/api/v1/routing-rules/dry-run', { ruleId: 'signups', window: { lastEvents: 8 } });
    expect(last.body).toMatchObject({ scanned: 8, matched: 2 });

    expectProblem(
      await h.api('POST', '/api/v1/routing-rules/dry-run', {
        rule: { condition: { path: '$.name', op: 'eqq', value: 1 } },
        window: { lastEvents: 10 },
      }),
      422,
    );
    expectProblem(
      await h.api('POST', '/api/v1/routing-rules/dry-run', { ruleId: 'nope', window: { lastEvents: 10 } }),
      404,
    );
    expectProblem(await h.api('POST', '/api/v1/routing-rules/dry-run', { ruleId: 'signups', window: {} }), 400);

    const admin = h.service.kafka.admin();
    await admin.connect();
    try {
      const groups = (await admin.listGroups()).groups.map((group) => group.groupId);
      expect(groups.filter((group) => group.startsWith(`${eventsTopic}.dry-run.`))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });
});
