import { Value } from '@sinclair/typebox/value';
import { RuleLogic, validateRule } from './index.ts';

// The JSON Schema (documentation, OpenAPI, templates) and the compiler (the authority) describe
// one language: definitions must be accepted or refused by both alike.

const valid: unknown[] = [
  {},
  { condition: { path: '$.name', op: 'eq', value: 'signup' } },
  {
    condition: {
      all: [
        { path: '$.value', op: 'gte', value: 1 },
        { not: { path: "$.dimensions['x-y']", op: 'in', value: ['a', 1, null] } },
      ],
    },
  },
  {
    condition: {
      any: [
        { path: '$.a', op: 'exists' },
        { path: '$.b', op: 'matches', value: '^x', flags: 'i' },
        { path: '$.c', op: 'contains', value: 'y' },
      ],
    },
  },
  {
    transformations: [
      { type: 'rename', from: '$.a', to: '$.b' },
      { type: 'copy', from: '$.a', to: '$.c' },
      { type: 'set', path: '$.d', value: { any: ['json'] } },
      { type: 'remove', path: '$.e[0]' },
      { type: 'map', path: '$.f', mapping: { a: 'b' }, default: null },
      { type: 'template', path: '$.g', template: '{{ $.name }}' },
      { type: 'convert', path: '$.value', from: 'ms', to: 's', unitPath: '$.unit' },
      { type: 'flatten', path: '$.attributes', separator: '_' },
      { type: 'unflatten', path: '$.attributes' },
      { type: 'keep', paths: ['$.id'] },
    ],
  },
];

const invalid: unknown[] = [
  { condition: { path: '$.a', op: 'eqq', value: 1 } },
  { condition: { path: '$.a', op: 'in', value: 'x' } },
  { condition: { path: 'a', op: 'eq', value: 1 } },
  { condition: { path: '$.a', op: 'eq', value: 1, extra: true } },
  { condition: { all: {} } },
  { transformations: [{ type: 'rename', from: '$.a' }] },
  { transformations: [{ type: 'convert', path: '$.v', from: 'ms', to: 'parsecs' }] },
  { transformations: [{ type: 'keep', paths: [] }] },
  { transformations: [{ type: 'remove', path: '$.a', extra: 1 }] },
];

test.each(valid.map((definition) => [JSON.stringify(definition), definition]))(
  'valid for both: %s',
  (_name, definition) => {
    expect(validateRule(definition)).toEqual([]);
    expect([...Value.Errors(RuleLogic, definition)]).toEqual([]);
  },
);

test.each(invalid.map((definition) => [JSON.stringify(definition), definition]))(
  'invalid for both: %s',
  (_name, definition) => {
    expect(validateRule(definition)).not.toEqual([]);
    expect(Value.Check(RuleLogic, definition)).toBe(false);
  },
);
