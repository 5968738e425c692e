import { MATCHES_MAX_INPUT } from './conditions.ts';
import { compileRule, compileRules, RuleCompileError, validateRule } from './index.ts';

const event = {
  id: 'e1',
  kind: 'metric',
  name: 'signup',
  value: 120,
  unit: 'ms',
  timestamp: '2026-11-23T10:00:00Z',
  dimensions: { env: 'prod', country: 'FR', 'x-y': 'dash', beta: true },
  attributes: {
    tags: ['a', 'b'],
    nested: { deep: { level: 3 } },
    nothing: null,
    items: [{ sku: 'k1' }, { sku: 'k2' }],
  },
};

const matches = (condition: unknown, input: unknown = event): boolean => compileRule({ condition })(input).matched;

describe('conditions', () => {
  const cases: [string, unknown, boolean][] = [
    ['eq string', { path: '$.name', op: 'eq', value: 'signup' }, true],
    ['eq mismatch', { path: '$.name', op: 'eq', value: 'login' }, false],
    ['eq boolean', { path: '$.dimensions.beta', op: 'eq', value: true }, true],
    ['eq null field', { path: '$.attributes.nothing', op: 'eq', value: null }, true],
    ['eq missing field', { path: '$.attributes.absent', op: 'eq', value: null }, false],
    ['eq number vs string', { path: '$.value', op: 'eq', value: '120' }, false],
    ['ne', { path: '$.dimensions.env', op: 'ne', value: 'dev' }, true],
    ['ne missing field', { path: '$.nope', op: 'ne', value: 'x' }, true],
    ['gt', { path: '$.value', op: 'gt', value: 100 }, true],
    ['gt equal', { path: '$.value', op: 'gt', value: 120 }, false],
    ['gte equal', { path: '$.value', op: 'gte', value: 120 }, true],
    ['lt', { path: '$.value', op: 'lt', value: 121 }, true],
    ['lte', { path: '$.value', op: 'lte', value: 119 }, false],
    ['gt missing', { path: '$.missing', op: 'gt', value: 0 }, false],
    ['gt type mismatch', { path: '$.name', op: 'gt', value: 0 }, false],
    ['gte time string', { path: '$.timestamp', op: 'gte', value: '2026-11-01T00:00:00Z' }, true],
    ['in', { path: '$.dimensions.country', op: 'in', value: ['FR', 'DE'] }, true],
    ['in miss', { path: '$.dimensions.country', op: 'in', value: ['US'] }, false],
    ['in missing field', { path: '$.dimensions.region', op: 'in', value: ['US'] }, false],
    ['exists', { path: '$.attributes.nested.deep.level', op: 'exists' }, true],
    ['exists missing', { path: '$.attributes.nested.shallow', op: 'exists' }, false],
    ['exists null counts as absent', { path: '$.attributes.nothing', op: 'exists' }, false],
    ['exists false on missing', { path: '$.entity', op: 'exists', value: false }, true],
    ['exists through a scalar', { path: '$.name.first', op: 'exists' }, false],
    ['matches', { path: '$.name', op: 'matches', value: '^sign' }, true],
    ['matches flags', { path: '$.name', op: 'matches', value: '^SIGN', flags: 'i' }, true],
    ['matches number is false', { path: '$.value', op: 'matches', value: '12' }, false],
    ['matches missing', { path: '$.missing', op: 'matches', value: '.*' }, false],
    ['contains substring', { path: '$.name', op: 'contains', value: 'gnu' }, true],
    ['contains array', { path: '$.attributes.tags', op: 'contains', value: 'b' }, true],
    ['contains array miss', { path: '$.attributes.tags', op: 'contains', value: 'c' }, false],
    ['contains missing', { path: '$.attributes.none', op: 'contains', value: 'c' }, false],
    ['quoted name', { path: "$.dimensions['x-y']", op: 'eq', value: 'dash' }, true],
    ['double-quoted name', { path: '$["dimensions"]["x-y"]', op: 'eq', value: 'dash' }, true],
    ['array index', { path: '$.attributes.items[1].sku', op: 'eq', value: 'k2' }, true],
    ['array index out of range', { path: '$.attributes.items[5].sku', op: 'exists' }, false],
    [
      'all',
      {
        all: [
          { path: '$.name', op: 'eq', value: 'signup' },
          { path: '$.value', op: 'gt', value: 1 },
        ],
      },
      true,
    ],
    [
      'all one false',
      {
        all: [
          { path: '$.name', op: 'eq', value: 'signup' },
          { path: '$.value', op: 'gt', value: 1000 },
        ],
      },
      false,
    ],
    ['all empty', { all: [] }, true],
    [
      'any',
      {
        any: [
          { path: '$.name', op: 'eq', value: 'x' },
          { path: '$.unit', op: 'eq', value: 'ms' },
        ],
      },
      true,
    ],
    ['any empty', { any: [] }, false],
    ['not', { not: { path: '$.dimensions.env', op: 'in', value: ['dev', 'test'] } }, true],
    [
      'design example',
      {
        all: [
          { path: '$.name', op: 'eq', value: 'signup' },
          { not: { path: '$.dimensions.env', op: 'in', value: ['dev', 'test'] } },
        ],
      },
      true,
    ],
    ['five children', { all: [1, 2, 3, 4, 5].map((n) => ({ path: '$.value', op: 'gt', value: n })) }, true],
    ['no condition matches everything', undefined, true],
  ];
  test.each(cases)('%s', (_name, condition, expected) => {
    expect(matches(condition)).toBe(expected);
  });

  test('a non-object event never matches a comparison and never throws', () => {
    expect(matches({ path: '$.a.b', op: 'eq', value: 1 }, null)).toBe(false);
    expect(matches({ path: '$.a.b', op: 'eq', value: 1 }, 'text')).toBe(false);
  });

  test('a matching rule without transformations passes the same event object through', () => {
    const result = compileRule({ condition: { path: '$.name', op: 'eq', value: 'signup' } })(event);
    expect(result).toEqual({ matched: true, event });
    expect(result.matched && result.event).toBe(event);
  });
});

describe('matches runs in linear time', () => {
  // `^(a+)+$` against "aaa…!" backtracks exponentially in a backtracking engine: 28 characters took
  // seconds there, so 50,000 would never finish (the run hangs, which fails it). With RE2 they finish at once.
  test('a catastrophic pattern on a long non-matching input completes', () => {
    const predicate = compileRule({ condition: { path: '$.s', op: 'matches', value: '^(a+)+$' } });
    expect(predicate({ s: `${'a'.repeat(50_000)}!` }).matched).toBe(false);
    expect(predicate({ s: 'a'.repeat(50_000) }).matched).toBe(true);
  });

  test('flags keep their meaning and a string over the input cap never matches', () => {
    expect(matches({ path: '$.name', op: 'matches', value: '^SIGN', flags: 'i' })).toBe(true);
    expect(matches({ path: '$.s', op: 'matches', value: '^b$', flags: 'm' }, { s: 'a\nb' })).toBe(true);
    expect(matches({ path: '$.s', op: 'matches', value: '^a.b$', flags: 's' }, { s: 'a\nb' })).toBe(true);
    expect(matches({ path: '$.s', op: 'matches', value: '^a.b$' }, { s: 'a\nb' })).toBe(false);
    expect(matches({ path: '$.s', op: 'matches', value: 'x' }, { s: 'x'.repeat(MATCHES_MAX_INPUT) })).toBe(true);
    expect(matches({ path: '$.s', op: 'matches', value: 'x' }, { s: 'x'.repeat(MATCHES_MAX_INPUT + 1) })).toBe(false);
  });
});

describe('invalid conditions are refused with their place', () => {
  const cases: [string, unknown, string][] = [
    [
      'unknown operator',
      {
        all: [
          { path: '$.a', op: 'eq', value: 1 },
          { path: '$.b', op: 'eqq', value: 1 },
        ],
      },
      'rule.condition.all[1].op: unknown operator "eqq"',
    ],
    ['path without $', { path: 'name', op: 'eq', value: 1 }, 'rule.condition.path: path "name" must start with "$"'],
    ['wildcard', { path: '$.items[*]', op: 'exists' }, 'rule.condition.path: the wildcard "[*]" at position 7'],
    ['recursive descent', { path: '$..name', op: 'exists' }, 'rule.condition.path: recursive descent'],
    ['prototype key', { path: '$.__proto__.x', op: 'exists' }, 'field name "__proto__" is not allowed'],
    ['unterminated quote', { path: "$['abc", op: 'exists' }, 'unterminated quoted name'],
    ['in without array', { path: '$.a', op: 'in', value: 'x' }, 'rule.condition.value: "in" needs an array'],
    ['eq object', { path: '$.a', op: 'eq', value: { x: 1 } }, 'rule.condition.value: "eq" compares with'],
    ['gt boolean', { path: '$.a', op: 'gt', value: true }, 'rule.condition.value: "gt" compares with'],
    ['bad regex', { path: '$.a', op: 'matches', value: '(' }, 'rule.condition.value: invalid regular expression'],
    [
      'backreference',
      { path: '$.a', op: 'matches', value: '(a)\\1' },
      'rule.condition.value: invalid regular expression',
    ],
    ['lookahead', { path: '$.a', op: 'matches', value: 'a(?=b)' }, 'rule.condition.value: invalid regular expression'],
    [
      'stateful flag',
      { path: '$.a', op: 'matches', value: 'a', flags: 'g' },
      'rule.condition.flags: flags may only combine',
    ],
    ['unknown field', { path: '$.a', op: 'eq', value: 1, vlaue: 2 }, 'rule.condition.vlaue: unknown field'],
    ['all not array', { all: { path: '$.a', op: 'exists' } }, 'rule.condition.all: must be an array'],
    [
      'not nested error',
      { not: { any: [{ path: '$.a', op: 'exists', value: 'yes' }] } },
      'rule.condition.not.any[0].value: "exists" takes true',
    ],
    ['empty object', {}, 'rule.condition: a condition needs'],
    ['scalar', 42, 'rule.condition: a condition must be an object'],
  ];
  test.each(cases)('%s', (_name, condition, message) => {
    expect(() => compileRule({ condition })).toThrow(RuleCompileError);
    expect(validateRule({ condition }).join('\n')).toContain(message);
  });

  test('every problem is reported at once, with the rule index', () => {
    const rules = [
      { condition: { path: '$.a', op: 'eq', value: 1 } },
      { condition: { path: '$.a', op: 'eq', value: 1 } },
      {
        condition: {
          all: [
            { path: '$.a', op: 'eq', value: 1 },
            { path: '$.b', op: 'eqq', value: 1 },
          ],
        },
        transformations: [{ type: 'renam' }],
      },
    ];
    try {
      compileRules(rules);
      throw new Error('expected a RuleCompileError');
    } catch (error) {
      expect(error).toBeInstanceOf(RuleCompileError);
      expect((error as RuleCompileError).problems).toEqual([
        'rules[2].condition.all[1].op: unknown operator "eqq" (one of eq, ne, gt, gte, lt, lte, in, exists, matches, contains)',
        'rules[2].transformations[0].type: unknown transformation "renam" (one of rename, copy, set, remove, map, template, convert, flatten, unflatten, keep)',
      ]);
    }
  });
});
