import { ConfigurationError } from '@muxly/common';
import { RoutingTable, type RouteDefinition, type RoutingRuleDefinition } from './pipeline.ts';

const rule = (
  overrides: Partial<RoutingRuleDefinition> & { id: string; destinationIds: string[] },
): RoutingRuleDefinition => ({
  priority: 100,
  enabled: true,
  transformations: [],
  stopOnMatch: false,
  ...overrides,
});
const event = (name: string, env = 'prod') => ({ id: `e-${name}`, name, value: 1, dimensions: { env } });
const route = (overrides: Partial<RouteDefinition> & { id: string; ruleIds: string[] }): RouteDefinition => ({
  connectorId: null,
  enabled: true,
  errorHandling: { onFailure: 'dead-letter' },
  ...overrides,
});
const from = (type: string, id: string, name = 'signup') => ({ ...event(name), source: { type, id } });

test('a destination gets the event as transformed by the first matching rule that names it', () => {
  const table = RoutingTable.compile([
    rule({
      id: 'later',
      priority: 20,
      destinationIds: ['s3'],
      transformations: [{ type: 'set', path: '$.tag', value: 'later' }],
    }),
    rule({
      id: 'first',
      priority: 10,
      condition: { path: '$.name', op: 'eq', value: 'signup' },
      destinationIds: ['s3'],
      transformations: [{ type: 'set', path: '$.tag', value: 'first' }],
    }),
  ]);
  expect(table.decide(event('signup'), 's3')).toEqual({
    routed: true,
    event: { ...event('signup'), tag: 'first' },
    ruleId: 'first',
    onFailure: 'dead-letter',
  });
  expect(table.decide(event('login'), 's3')).toEqual({
    routed: true,
    event: { ...event('login'), tag: 'later' },
    ruleId: 'later',
    onFailure: 'dead-letter',
  });
  expect(table.decide(event('login'), 'slack')).toEqual({ routed: false });
});

test('stopOnMatch ends the search, also for destinations the stopping rule does not name', () => {
  const table = RoutingTable.compile([
    rule({
      id: 'drop-dev',
      priority: 1,
      condition: { path: '$.dimensions.env', op: 'eq', value: 'dev' },
      destinationIds: ['archive'],
      stopOnMatch: true,
    }),
    rule({ id: 'all', priority: 2, destinationIds: ['slack', 'archive'] }),
  ]);
  expect(table.decide(event('x', 'dev'), 'slack')).toEqual({ routed: false });
  expect(table.decide(event('x', 'dev'), 'archive').routed).toBe(true);
  expect(table.decide(event('x', 'prod'), 'slack').routed).toBe(true);
});

test('disabled rules are ignored and the input event is never modified', () => {
  const input = event('signup');
  const table = RoutingTable.compile([
    rule({ id: 'off', enabled: false, destinationIds: ['a'] }),
    rule({ id: 'on', destinationIds: ['b'], transformations: [{ type: 'remove', path: '$.value' }] }),
  ]);
  expect(table.decide(input, 'a')).toEqual({ routed: false });
  expect(table.decide(input, 'b')).toMatchObject({
    routed: true,
    event: { id: 'e-signup', name: 'signup', dimensions: { env: 'prod' } },
  });
  expect(input.value).toBe(1);
});

test('invalid rules and unknown destinations are refused with the rule id and place', () => {
  let error: unknown;
  try {
    RoutingTable.compile(
      [rule({ id: 'typo', condition: { path: '$.name', op: 'eqq', value: 'x' }, destinationIds: ['nowhere'] })],
      new Set(['file']),
    );
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigurationError);
  const problems = (error as ConfigurationError).problems;
  expect(problems).toContain('rules.typo.destinationIds: unknown destination "nowhere"');
  expect(problems.some((problem) => problem.startsWith('rules.typo.condition') && problem.includes('eqq'))).toBe(true);
});

describe('routes', () => {
  const rules = [
    rule({ id: 'everyone', priority: 1, destinationIds: ['archive'] }),
    rule({ id: 'crm-only', priority: 2, destinationIds: ['slack'] }),
    rule({
      id: 'api-only',
      priority: 3,
      destinationIds: ['slack'],
      transformations: [{ type: 'set', path: '$.via', value: 'api' }],
    }),
  ];

  test("a rule a route lists applies only to that route's source; a rule no route lists applies to every source", () => {
    const table = RoutingTable.compile(rules, undefined, [
      route({ id: 'hubspot', connectorId: 'hs-1', ruleIds: ['crm-only'], errorHandling: { onFailure: 'stop' } }),
      route({ id: 'api', connectorId: null, ruleIds: ['api-only'], errorHandling: { onFailure: 'continue' } }),
    ]);
    expect(table.decide(from('hubspot', 'hs-1'), 'slack')).toMatchObject({
      routed: true,
      ruleId: 'crm-only',
      onFailure: 'stop',
    });
    expect(table.decide(from('api', 'key-7'), 'slack')).toMatchObject({
      routed: true,
      ruleId: 'api-only',
      onFailure: 'continue',
      event: { via: 'api' },
    });
    // A source without a route, and an event without a source: only the unlisted rules.
    expect(table.decide(from('bigquery', 'bq-1'), 'slack')).toEqual({ routed: false });
    expect(table.decide(event('signup'), 'slack')).toEqual({ routed: false });
    for (const input of [from('hubspot', 'hs-1'), from('api', 'key-7'), from('bigquery', 'bq-1'), event('x')]) {
      expect(table.decide(input, 'archive')).toMatchObject({
        routed: true,
        ruleId: 'everyone',
        onFailure: 'dead-letter',
      });
    }
  });

  test('disabled routes are ignored; without enabled routes every rule applies everywhere', () => {
    const table = RoutingTable.compile(rules, undefined, [
      route({ id: 'off', connectorId: 'hs-1', ruleIds: ['crm-only'], enabled: false }),
    ]);
    expect(table.decide(from('bigquery', 'bq-1'), 'slack')).toMatchObject({ routed: true, ruleId: 'crm-only' });
  });

  test('two routes tying one source to one rule: the most careful policy wins', () => {
    const table = RoutingTable.compile(rules, undefined, [
      route({ id: 'a', connectorId: 'hs-1', ruleIds: ['crm-only'], errorHandling: { onFailure: 'continue' } }),
      route({ id: 'b', connectorId: 'hs-1', ruleIds: ['crm-only'], errorHandling: { onFailure: 'dead-letter' } }),
    ]);
    expect(table.decide(from('hubspot', 'hs-1'), 'slack')).toMatchObject({ onFailure: 'dead-letter' });
  });

  test("a rule that throws on an event yields an error decision with its route's policy", () => {
    // A deep copy of a value nested deeper than the stack allows throws a RangeError.
    const throwing = rule({
      id: 'bad',
      destinationIds: ['slack'],
      transformations: [{ type: 'copy', from: '$.attributes.deep', to: '$.copy' }],
    });
    const table = RoutingTable.compile([throwing], undefined, [
      route({ id: 'r', connectorId: null, ruleIds: ['bad'], errorHandling: { onFailure: 'stop' } }),
    ]);
    const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`) as unknown;
    const decision = table.decide({ ...from('api', 'k'), attributes: { deep } }, 'slack');
    expect(decision).toMatchObject({ routed: 'error', ruleId: 'bad', onFailure: 'stop' });
    expect(decision.routed === 'error' && decision.error).toBeInstanceOf(RangeError);
  });

  test('unknown rules and policies in routes are refused with their place', () => {
    let error: unknown;
    try {
      RoutingTable.compile(rules, undefined, [
        route({ id: 'r1', ruleIds: ['everyone', 'ghost'], errorHandling: { onFailure: 'retry' as never } }),
      ]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).problems).toEqual([
      'routes.r1.ruleIds[1]: unknown rule "ghost"',
      'routes.r1.errorHandling.onFailure: unknown policy "retry" (one of dead-letter, continue, stop)',
    ]);
  });
});

describe('route(): every destination decided at once', () => {
  const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`) as unknown;
  const rules = [
    rule({
      id: 'drop-dev',
      priority: 1,
      condition: { path: '$.dimensions.env', op: 'eq', value: 'dev' },
      destinationIds: ['archive'],
      stopOnMatch: true,
    }),
    rule({
      id: 'signups',
      priority: 2,
      condition: { path: '$.name', op: 'eq', value: 'signup' },
      destinationIds: ['slack', 'warehouse'],
      transformations: [{ type: 'set', path: '$.tag', value: 'signup' }],
    }),
    rule({
      id: 'copying',
      priority: 3,
      condition: { path: '$.name', op: 'eq', value: 'deep' },
      destinationIds: ['warehouse'],
      transformations: [{ type: 'copy', from: '$.attributes.deep', to: '$.copy' }],
    }),
    rule({ id: 'crm', priority: 4, destinationIds: ['slack'] }),
    rule({ id: 'rest', priority: 5, destinationIds: ['archive', 'warehouse'] }),
  ];
  const routes = [route({ id: 'crm', connectorId: 'hs-1', ruleIds: ['crm'], errorHandling: { onFailure: 'stop' } })];
  const destinations = ['archive', 'slack', 'warehouse', 'nobody'];
  const inputs = [
    event('signup'),
    event('signup', 'dev'),
    event('login'),
    from('hubspot', 'hs-1', 'signup'),
    from('hubspot', 'hs-1', 'login'),
    from('api', 'k', 'login'),
    { ...from('api', 'k', 'deep'), attributes: { deep } },
  ];

  test('gives each destination the answer decide() gives it alone', () => {
    const table = RoutingTable.compile(rules, undefined, routes);
    for (const input of inputs) {
      const decisions = table.route(input, destinations);
      expect([...decisions.keys()].sort()).toEqual([...destinations].sort());
      for (const id of destinations) {
        const alone = table.decide(input, id);
        const together = decisions.get(id)!;
        if (alone.routed === 'error') expect(together).toMatchObject({ routed: 'error', ruleId: alone.ruleId });
        else expect(together).toEqual(alone);
      }
    }
  });

  test('evaluates each rule at most once per event, however many destinations it names', () => {
    let evaluations = 0;
    const counting = rule({
      id: 'counted',
      condition: { path: '$.name', op: 'eq', value: 'signup' },
      destinationIds: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
      transformations: [{ type: 'set', path: '$.n', value: 1 }],
    });
    const table = RoutingTable.compile([counting]);
    const input = event('signup');
    Object.defineProperty(input, 'name', {
      get: () => {
        evaluations += 1;
        return 'signup';
      },
      enumerable: true,
    });
    const decisions = table.route(input, counting.destinationIds);
    expect([...decisions.values()].every((decision) => decision.routed === true)).toBe(true);
    const once = evaluations;
    expect(once).toBeGreaterThan(0);
    table.decide(input, 'a');
    // decide() for one destination costs one evaluation; route() for ten cost the same.
    expect(once).toBe(evaluations - once);
  });
});
