import { createLogger, SecretKeyring } from '@muxly/common';
import { PipelineState } from './pipeline.state.ts';

const keyring = new SecretKeyring({ keys: [{ id: 'k1', key: Buffer.alloc(32, 7).toString('base64') }] });
const logger = createLogger({ service: 'router-test', silent: true });
const base = {
  destinations: [{ id: 'file-out', type: 'file', enabled: true, config: { path: '/tmp/x.jsonl' } }],
  rules: [
    { id: 'all', priority: 100, enabled: true, transformations: [], destinationIds: ['file-out'], stopOnMatch: false },
  ],
};
const record = (kind: string, id: string, version: number, object: Record<string, unknown>) => ({
  key: `${kind}/${id}`,
  value: JSON.stringify({ kind, id, version, object }),
});

describe('PipelineState', () => {
  test('starts from the settings file and merges destinations (credentials decrypted) and rules by id', () => {
    const state = new PipelineState({ base, keyring, logger });
    expect(state.snapshot()).toEqual({ ...base, routes: [] });
    const credentials = keyring.encrypt({ token: 'xoxb-secret' }, 'destination/alerts');
    expect(
      state.apply(
        record('destination', 'alerts', 1, {
          id: 'alerts',
          name: 'Alerts',
          type: 'slack',
          enabled: true,
          config: { channel: 'C1', text: 'hi' },
          credentials,
        }),
      ),
    ).toBe(true);
    expect(
      state.apply(
        record('rule', 'r1', 2, {
          id: 'r1',
          name: 'R1',
          priority: 5,
          enabled: true,
          condition: null,
          transformations: [],
          destinationIds: ['alerts'],
          stopOnMatch: true,
        }),
      ),
    ).toBe(true);
    expect(state.apply(record('connector', 'c1', 1, { id: 'c1' }))).toBe(false);
    const snapshot = state.snapshot();
    expect(snapshot.destinations).toEqual([
      base.destinations[0],
      {
        id: 'alerts',
        name: 'Alerts',
        type: 'slack',
        enabled: true,
        config: { channel: 'C1', text: 'hi', token: 'xoxb-secret' },
      },
    ]);
    expect(snapshot.rules[1]).toEqual({
      id: 'r1',
      name: 'R1',
      priority: 5,
      enabled: true,
      transformations: [],
      destinationIds: ['alerts'],
      stopOnMatch: true,
    });
  });

  test('a lower version never replaces a newer one; a tombstone removes, also a settings-file object', () => {
    const state = new PipelineState({ base, keyring, logger });
    state.apply(record('rule', 'all', 3, { priority: 1, destinationIds: ['file-out'] }));
    expect(state.apply(record('rule', 'all', 2, { priority: 9, destinationIds: ['file-out'] }))).toBe(false);
    expect(state.snapshot().rules[0]!.priority).toBe(1);
    expect(state.apply({ key: 'rule/all', value: null })).toBe(true);
    expect(state.apply({ key: 'destination/file-out', value: null })).toBe(true);
    expect(state.snapshot()).toEqual({ destinations: [], rules: [], routes: [] });
    // Re-created after deletion: back.
    state.apply(record('rule', 'all', 1, { destinationIds: ['x'] }));
    expect(state.snapshot().rules.map((rule) => rule.id)).toEqual(['all']);
  });

  test('a destination whose credentials do not decrypt is left out; garbage records are ignored', () => {
    const state = new PipelineState({ base: { destinations: [], rules: [] }, keyring, logger });
    const foreign = new SecretKeyring({ keys: [{ id: 'k1', key: Buffer.alloc(32, 9).toString('base64') }] }).encrypt(
      { token: 'x' },
      'destination/d',
    );
    state.apply(record('destination', 'd', 1, { type: 'slack', config: {}, credentials: foreign }));
    // Encrypted for another object: the AAD binds a ciphertext to its destination.
    const moved = keyring.encrypt({ token: 'x' }, 'destination/other');
    state.apply(record('destination', 'e', 1, { type: 'slack', config: {}, credentials: moved }));
    expect(state.apply({ key: 'rule/bad', value: '{not json' })).toBe(false);
    expect(state.apply({ key: 'rule/bad', value: '{"id":"bad"}' })).toBe(false);
    expect(state.snapshot()).toEqual({ destinations: [], rules: [], routes: [] });
  });

  test("routes merge by id like rules: the control plane's record shape, defaults, tombstones", () => {
    const fileRoute = {
      id: 'api',
      connectorId: null,
      ruleIds: ['all'],
      enabled: true,
      errorHandling: { onFailure: 'continue' as const },
    };
    const state = new PipelineState({ base: { ...base, routes: [fileRoute] }, keyring, logger });
    expect(state.snapshot().routes).toEqual([fileRoute]);
    expect(
      state.apply(
        record('route', 'hubspot', 1, {
          id: 'hubspot',
          name: 'HubSpot',
          connectorId: 'hs',
          ruleIds: ['all'],
          enabled: true,
          errorHandling: { onFailure: 'stop' },
        }),
      ),
    ).toBe(true);
    state.apply(record('route', 'bare', 1, { ruleIds: ['all'] }));
    expect(state.snapshot().routes).toEqual([
      fileRoute,
      {
        id: 'hubspot',
        name: 'HubSpot',
        connectorId: 'hs',
        ruleIds: ['all'],
        enabled: true,
        errorHandling: { onFailure: 'stop' },
      },
      { id: 'bare', connectorId: null, ruleIds: ['all'], enabled: true, errorHandling: { onFailure: 'dead-letter' } },
    ]);
    state.apply({ key: 'route/api', value: null });
    state.apply({ key: 'route/bare', value: null });
    expect(state.snapshot().routes?.map((route) => route.id)).toEqual(['hubspot']);
  });
});
