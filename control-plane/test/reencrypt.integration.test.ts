import { randomBytes } from 'node:crypto';
import { SecretKeyring } from '@muxly/common';
import { DestinationEntity, WebhookTriggerEntity } from '../src/db/entities.ts';
import { reencryptSecrets } from '../src/secrets/reencrypt.ts';
import { startHarness, TEST_KEY, type Harness } from './harness.ts';

describe('secret key rotation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('re-encrypts every stored secret under the new active key, once', async () => {
    await h.api('POST', '/api/v1/destinations', {
      id: 'hook',
      name: 'hook',
      type: 'webhook',
      config: { url: 'http://x' },
      credentials: { signingSecret: 'rotate-me-1' },
    });
    await h.api('POST', '/api/v1/connectors', {
      id: 'src',
      name: 'src',
      type: 'custom',
      config: { baseUrl: 'http://x' },
      credentials: { token: 'rotate-me-2' },
    });
    await h.api('POST', '/api/v1/connectors', {
      id: 'plain',
      name: 'plain',
      type: 'custom',
      config: { baseUrl: 'http://x' },
    });
    await h.api('POST', '/api/v1/jobs', { id: 'j', name: 'j', connectorId: 'src' });
    await h.api('POST', '/api/v1/webhook-triggers', {
      id: 'wh',
      jobId: 'j',
      path: 'p',
      secret: 'rotate-me-3-long-enough',
    });

    const newKey = { id: 'test-2', key: randomBytes(32).toString('base64') };
    const rotated = new SecretKeyring({ keys: [TEST_KEY, newKey], activeKeyId: 'test-2' });
    const { orm } = h.service.context;
    const first = await reencryptSecrets(orm, rotated);
    expect(first.examined).toBe(3);
    expect(first.reencrypted).toEqual([
      { kind: 'connector', id: 'src' },
      { kind: 'destination', id: 'hook' },
      { kind: 'webhook-trigger', id: 'wh' },
    ]);
    expect((await reencryptSecrets(orm, rotated)).reencrypted).toEqual([]);

    const em = orm.em.fork();
    const destination = await em.findOneOrFail(DestinationEntity, { id: 'hook' });
    expect(rotated.keyIdOf(destination.credentials!)).toBe('test-2');
    expect(destination.version).toBe(2);
    // Only the new key is needed from now on: the old one can be removed from the settings.
    const onlyNew = new SecretKeyring({ keys: [newKey] });
    expect(onlyNew.decrypt(destination.credentials!, 'destination/hook')).toEqual({ signingSecret: 'rotate-me-1' });
    const trigger = await em.findOneOrFail(WebhookTriggerEntity, { id: 'wh' });
    expect(onlyNew.decrypt(trigger.secret!, 'webhook-trigger/wh')).toBe('rotate-me-3-long-enough');
  });
});
