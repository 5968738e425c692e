import { randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { ConfigurationError, SecretKeyring } from '@muxly/common';
import { reconcilePipeline } from '../src/seed/reconcile.ts';
import { startHarness, TEST_KEY, type Harness } from './harness.ts';
import { waitFor } from '../../test/support/services.ts';

interface SeenRecord {
  key: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read records freely
  value: { kind: string; id: string; version: number; object: Record<string, any> } | null;
}

const pipeline = {
  destinations: [{ id: 'seed-file', type: 'file', config: { path: 'seed.jsonl' } }],
  rules: [{ id: 'seed-rule', condition: { path: '$.name', op: 'eq', value: 'signup' }, destinationIds: ['seed-file'] }],
};

describe('live configuration on the config topic', () => {
  let h: Harness;
  let consumer: Consumer;
  const seen: SeenRecord[] = [];

  beforeAll(async () => {
    h = await startHarness({ pipeline });
    consumer = h.service.kafka.consumer({ groupId: `test-config-${randomBytes(4).toString('hex')}` });
    await consumer.connect();
    await consumer.subscribe({ topic: h.configTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({ key: message.key!.toString(), value: message.value ? JSON.parse(message.value.toString()) : null });
      },
    });
  });
  afterAll(async () => {
    await consumer?.disconnect();
    await h?.close();
  });

  /** The latest record of a key once it satisfies `predicate`; past the deadline, the failure lists what was seen. */
  const recordOf = (key: string, predicate: (record: SeenRecord) => boolean, timeoutMs = 20_000) =>
    waitFor(
      `a matching record for ${key}`,
      () => {
        const latest = seen.filter((record) => record.key === key).at(-1);
        if (latest && predicate(latest)) return latest;
        throw new Error(`saw ${JSON.stringify(seen.filter((record) => record.key === key))}`);
      },
      timeoutMs,
      100,
    );

  it('publishes the seeded objects at start-up', async () => {
    const destination = await recordOf('destination/seed-file', (r) => r.value !== null);
    expect(destination.value).toEqual({
      kind: 'destination',
      id: 'seed-file',
      version: 1,
      object: {
        id: 'seed-file',
        name: 'seed-file',
        type: 'file',
        enabled: true,
        config: { path: 'seed.jsonl', format: 'jsonl' },
        credentials: null,
      },
    });
    const rule = await recordOf('rule/seed-rule', (r) => r.value !== null);
    expect(rule.value!.object).toEqual({
      id: 'seed-rule',
      name: 'seed-rule',
      priority: 100,
      enabled: true,
      condition: pipeline.rules[0]!.condition,
      transformations: [],
      destinationIds: ['seed-file'],
      stopOnMatch: false,
    });
  });

  it('publishes every change, with credentials still encrypted, and a tombstone on delete', async () => {
    const created = await h.api('POST', '/api/v1/destinations', {
      id: 'hook',
      name: 'Hook',
      type: 'webhook',
      config: { url: 'http://127.0.0.1:9/x' },
      credentials: { signingSecret: 'sign-me-please' },
    });
    expect(created.status).toBe(201);
    const record = await recordOf('destination/hook', (r) => r.value?.version === 1);
    const credentials = record.value!.object.credentials;
    expect(JSON.stringify(record.value)).not.toContain('sign-me-please');
    expect(credentials.$encrypted).toMatch(/^v1:test-1:/);
    // What the router does with it: decrypt with the platform key, bound to "<kind>/<id>".
    expect(new SecretKeyring({ keys: [TEST_KEY] }).decrypt(credentials, 'destination/hook')).toEqual({
      signingSecret: 'sign-me-please',
    });

    const rule = await h.api(
      'PATCH',
      '/api/v1/routing-rules/seed-rule',
      { destinationIds: ['seed-file', 'hook'], condition: null },
      { 'if-match': '"1"' },
    );
    expect(rule.status).toBe(200);
    const changed = await recordOf('rule/seed-rule', (r) => r.value?.version === 2);
    expect(changed.value!.object.destinationIds).toEqual(['seed-file', 'hook']);
    expect(changed.value!.object).not.toHaveProperty('condition');

    const job = await h.api('POST', '/api/v1/connectors', {
      id: 'src',
      name: 'src',
      type: 'custom',
      config: { baseUrl: 'http://x' },
      credentials: { token: 't0k3n' },
    });
    expect(job.status).toBe(201);
    await h.api('POST', '/api/v1/jobs', { id: 'j1', name: 'j1', connectorId: 'src', schedule: '*/5 * * * *' });
    await h.api('POST', '/api/v1/routes', { id: 'rt', name: 'rt', connectorId: 'src', ruleIds: ['seed-rule'] });
    await h.api('POST', '/api/v1/webhook-triggers', { id: 'wh', jobId: 'j1', path: 'go' });
    expect((await recordOf('connector/src', (r) => r.value !== null)).value!.object.credentials.$encrypted).toMatch(
      /^v1:test-1:/,
    );
    expect((await recordOf('job/j1', (r) => r.value !== null)).value!.object).toMatchObject({
      connectorId: 'src',
      schedule: '*/5 * * * *',
    });
    expect((await recordOf('route/rt', (r) => r.value !== null)).value!.object).toMatchObject({
      connectorId: 'src',
      ruleIds: ['seed-rule'],
    });
    expect((await recordOf('webhook-trigger/wh', (r) => r.value !== null)).value!.object.secret.$encrypted).toMatch(
      /^v1:test-1:/,
    );

    expect((await h.api('DELETE', '/api/v1/webhook-triggers/wh')).status).toBe(204);
    await recordOf('webhook-trigger/wh', (r) => r.value === null);
  });

  it('reconciles the seed idempotently and refuses an invalid one by name', async () => {
    const context = h.service.context;
    // The API changed the seeded rule above: the seed brings it back, once.
    expect(await reconcilePipeline(context, h.settings.pipeline)).toMatchObject({
      updated: 1,
      unchanged: 1,
      created: 0,
    });
    expect(await reconcilePipeline(context, h.settings.pipeline)).toMatchObject({
      updated: 0,
      unchanged: 2,
      created: 0,
    });
    await recordOf('rule/seed-rule', (r) => r.value?.version === 3 && r.value.object.destinationIds.length === 1);
    const bad = {
      destinations: [{ id: 'x', type: 'file', enabled: true, config: { path: 'x', colour: 'red' } }],
      rules: [],
    };
    await expect(reconcilePipeline(context, bad)).rejects.toThrow(ConfigurationError);
    await expect(reconcilePipeline(context, bad)).rejects.toThrow(
      /pipeline\.destinations\[0\]\.config\.colour: is not a known field/,
    );
  });
});
