import { ConfigurationError } from '@muxly/common';
import { RoutingTable, type RoutingRuleDefinition } from './pipeline.ts';

const rule = (overrides: Partial<RoutingRuleDefinition> & { id: string; destinationIds: string[] }): RoutingRuleDefinition => ({
  priority: 100,
  enabled: true,
  transformations: [],
  stopOnMatch: false,
  ...overrides,
});
const event = (name: string, env = 'prod') => ({ id: `e-${name}`, name, value: 1, dimensions: { env } });

test('a destination gets the event as transformed by the first matching rule that names it', () => {
  const table = RoutingTable.compile([
    rule({ id: 'later', priority: 20, destinationIds: ['s3'], transformations: [{ type: 'set', path: '$.tag', value: 'later' }] }),
    rule({ id: 'first', priority: 10, condition: { path: '$.name', op: 'eq', value: 'signup' }, destinationIds: ['s3'], transformations: [{ type: 'set', path: '$.tag', value: 'first' }] }),
  ]);
  expect(table.decide(event('signup'), 's3')).toEqual({ routed: true, event: { ...event('signup'), tag: 'first' } });
  expect(table.decide(event('login'), 's3')).toEqual({ routed: true, event: { ...event('login'), tag: 'later' } });
  expect(table.decide(event('login'), 'slack')).toEqual({ routed: false });
});

test('stopOnMatch ends the search, also for destinations the stopping rule does not name', () => {
  const table = RoutingTable.compile([
    rule({ id: 'drop-dev', priority: 1, condition: { path: '$.dimensions.env', op: 'eq', value: 'dev' }, destinationIds: ['archive'], stopOnMatch: true }),
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
  expect(table.decide(input, 'b')).toEqual({ routed: true, event: { id: 'e-signup', name: 'signup', dimensions: { env: 'prod' } } });
  expect(input.value).toBe(1);
});

test('invalid rules and unknown destinations are refused with the rule id and place', () => {
  let error: unknown;
  try {
    RoutingTable.compile([rule({ id: 'typo', condition: { path: '$.name', op: 'eqq', value: 'x' }, destinationIds: ['nowhere'] })], new Set(['file']));
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigurationError);
  const problems = (error as ConfigurationError).problems;
  expect(problems).toContain('rules.typo.destinationIds: unknown destination "nowhere"');
  expect(problems.some((problem) => problem.startsWith('rules.typo.condition') && problem.includes('eqq'))).toBe(true);
});
