import { compileRule, compileTemplate, RuleCompileError, unitConverter, validateRule } from './index.ts';

const base = () => ({
  id: 'e1',
  name: 'page_view',
  value: 1500,
  unit: 'ms',
  dimensions: { env: 'prod', status: 200 },
  attributes: { user: { id: 'u1', plan: 'pro' }, tags: ['x'] },
});

const apply = (transformations: unknown[], input: unknown = base()): unknown => {
  const result = compileRule({ transformations })(input);
  if (!result.matched) throw new Error('expected a match');
  return result.event;
};

describe('transformations', () => {
  const cases: [string, unknown[], (event: ReturnType<typeof base>) => unknown][] = [
    ['rename', [{ type: 'rename', from: '$.name', to: '$.event' }], ({ name, ...rest }) => ({ ...rest, event: name })],
    [
      'rename into a new nested path',
      [{ type: 'rename', from: '$.unit', to: '$.meta.unit' }],
      ({ unit, ...rest }) => ({ ...rest, meta: { unit } }),
    ],
    ['rename missing is a no-op', [{ type: 'rename', from: '$.nope', to: '$.other' }], (e) => e],
    [
      'copy',
      [{ type: 'copy', from: '$.attributes.user', to: '$.user' }],
      (e) => ({ ...e, user: { id: 'u1', plan: 'pro' } }),
    ],
    ['copy missing is a no-op', [{ type: 'copy', from: '$.attributes.none', to: '$.user' }], (e) => e],
    [
      'set constant',
      [{ type: 'set', path: '$.dimensions.team', value: 'growth' }],
      (e) => ({ ...e, dimensions: { ...e.dimensions, team: 'growth' } }),
    ],
    [
      'set creates parents',
      [{ type: 'set', path: '$.a.b[1]', value: true }],
      (e) => ({ ...e, a: { b: [undefined, true] } }),
    ],
    ['set object value', [{ type: 'set', path: '$.meta', value: { v: 1 } }], (e) => ({ ...e, meta: { v: 1 } })],
    [
      'remove',
      [{ type: 'remove', path: '$.attributes.user.plan' }],
      (e) => ({ ...e, attributes: { ...e.attributes, user: { id: 'u1' } } }),
    ],
    ['remove missing is a no-op', [{ type: 'remove', path: '$.attributes.zzz.y' }], (e) => e],
    [
      'remove array element',
      [{ type: 'remove', path: '$.attributes.tags[0]' }],
      (e) => ({ ...e, attributes: { ...e.attributes, tags: [] } }),
    ],
    [
      'map',
      [{ type: 'map', path: '$.dimensions.env', mapping: { prod: 'production', dev: 'development' } }],
      (e) => ({ ...e, dimensions: { ...e.dimensions, env: 'production' } }),
    ],
    [
      'map number as string key',
      [{ type: 'map', path: '$.dimensions.status', mapping: { '200': 'ok' } }],
      (e) => ({ ...e, dimensions: { ...e.dimensions, status: 'ok' } }),
    ],
    [
      'map default',
      [{ type: 'map', path: '$.dimensions.env', mapping: { dev: 'development' }, default: 'other' }],
      (e) => ({ ...e, dimensions: { ...e.dimensions, env: 'other' } }),
    ],
    [
      'map without default keeps value',
      [{ type: 'map', path: '$.dimensions.env', mapping: { dev: 'development' } }],
      (e) => e,
    ],
    [
      'map missing stays missing',
      [{ type: 'map', path: '$.dimensions.none', mapping: { a: 'b' }, default: 'x' }],
      (e) => e,
    ],
    [
      'template',
      [
        {
          type: 'template',
          path: '$.title',
          template: '{{ $.name }} by {{$.attributes.user.id}} ({{ $.missing }}) {{ $.attributes.tags }}',
        },
      ],
      (e) => ({ ...e, title: 'page_view by u1 () ["x"]' }),
    ],
    ['convert', [{ type: 'convert', path: '$.value', from: 'ms', to: 's' }], (e) => ({ ...e, value: 1.5 })],
    [
      'convert with unit field',
      [{ type: 'convert', path: '$.value', from: 'ms', to: 's', unitPath: '$.unit' }],
      (e) => ({ ...e, value: 1.5, unit: 's' }),
    ],
    [
      'convert skips other units',
      [{ type: 'convert', path: '$.value', from: 'bytes', to: 'KB', unitPath: '$.unit' }],
      (e) => e,
    ],
    ['convert missing is a no-op', [{ type: 'convert', path: '$.nothing', from: 'ms', to: 's' }], (e) => e],
    ['convert non-number is a no-op', [{ type: 'convert', path: '$.name', from: 'ms', to: 's' }], (e) => e],
    [
      'flatten',
      [{ type: 'flatten', path: '$.attributes' }],
      (e) => ({ ...e, attributes: { 'user.id': 'u1', 'user.plan': 'pro', tags: ['x'] } }),
    ],
    [
      'flatten with separator',
      [{ type: 'flatten', path: '$.attributes', separator: '_' }],
      (e) => ({ ...e, attributes: { user_id: 'u1', user_plan: 'pro', tags: ['x'] } }),
    ],
    ['flatten missing is a no-op', [{ type: 'flatten', path: '$.nothing' }], (e) => e],
    ['unflatten missing is a no-op', [{ type: 'unflatten', path: '$.nothing' }], (e) => e],
    ['unflatten of a non-object is a no-op', [{ type: 'unflatten', path: '$.name' }], (e) => e],
    [
      'keep with every path missing leaves an empty event',
      [{ type: 'keep', paths: ['$.nothing', '$.attributes.none'] }],
      () => ({}),
    ],
    [
      'template over a missing parent creates it',
      [{ type: 'template', path: '$.meta.title', template: '{{ $.name }}' }],
      (e) => ({ ...e, meta: { title: 'page_view' } }),
    ],
    [
      'flatten then unflatten round-trips',
      [
        { type: 'flatten', path: '$.attributes' },
        { type: 'unflatten', path: '$.attributes' },
      ],
      (e) => e,
    ],
    [
      'keep',
      [{ type: 'keep', paths: ['$.id', '$.attributes.user.id', '$.missing'] }],
      (e) => ({ id: e.id, attributes: { user: { id: 'u1' } } }),
    ],
    [
      'ordered list',
      [
        { type: 'rename', from: '$.value', to: '$.seconds' },
        { type: 'convert', path: '$.seconds', from: 'ms', to: 's' },
        { type: 'keep', paths: ['$.id', '$.seconds'] },
      ],
      () => ({ id: 'e1', seconds: 1.5 }),
    ],
  ];
  test.each(cases)('%s', (_name, transformations, expected) => {
    expect(apply(transformations)).toEqual(expected(base()));
  });

  test('the input event is never modified', () => {
    const input = base();
    apply(
      [
        { type: 'remove', path: '$.attributes.user' },
        { type: 'set', path: '$.dimensions.env', value: 'x' },
      ],
      input,
    );
    expect(input).toEqual(base());
  });

  test('copy-on-write: changes under moved, nested and array values never reach the input', () => {
    const input = { ...base(), list: [{ a: 1 }, { a: 2 }] };
    const snapshot = JSON.parse(JSON.stringify(input));
    const output = apply(
      [
        { type: 'rename', from: '$.attributes.user', to: '$.owner' },
        { type: 'set', path: '$.owner.plan', value: 'free' },
        { type: 'set', path: '$.list[1].a', value: 3 },
        { type: 'remove', path: '$.list[0].a' },
        { type: 'unflatten', path: '$.dimensions' },
        { type: 'set', path: '$.dimensions.env', value: 'x' },
      ],
      input,
    ) as Record<string, unknown>;
    expect(input).toEqual(snapshot);
    expect(output).toMatchObject({
      owner: { id: 'u1', plan: 'free' },
      list: [{}, { a: 3 }],
      dimensions: { env: 'x', status: 200 },
    });
    // Unchanged parts are shared, not copied.
    expect(output.id).toBe(input.id);
    expect((output.attributes as Record<string, unknown>).tags).toBe(input.attributes.tags);
  });

  test('a set object value is not shared between events', () => {
    const evaluate = compileRule({ transformations: [{ type: 'set', path: '$.meta', value: { list: [] } }] });
    const first = evaluate(base());
    if (first.matched) (first.event.meta as { list: unknown[] }).list.push(1);
    const second = evaluate(base());
    expect(second.matched && second.event.meta).toEqual({ list: [] });
  });

  test('unflatten does not reach a prototype from event keys', () => {
    const input = JSON.parse('{"attributes":{"__proto__.polluted":"yes","a.b":1}}');
    const output = apply([{ type: 'unflatten', path: '$.attributes' }], input) as {
      attributes: Record<string, unknown>;
    };
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(output.attributes).toEqual({ '__proto__.polluted': 'yes', a: { b: 1 } });
  });

  test('a JSON __proto__ key survives the copy as data', () => {
    const input = JSON.parse('{"attributes":{"__proto__":{"x":1}}}');
    const output = apply([{ type: 'set', path: '$.y', value: 1 }], input) as Record<string, Record<string, unknown>>;
    expect(Object.getPrototypeOf(output.attributes)).toBe(Object.prototype);
    expect(Object.keys(output.attributes!)).toEqual(['__proto__']);
  });
});

describe('invalid transformations are refused with their place', () => {
  const cases: [string, unknown, string][] = [
    [
      'unknown type',
      { type: 'renam', from: '$.a', to: '$.b' },
      'rule.transformations[0].type: unknown transformation "renam"',
    ],
    ['missing field', { type: 'rename', from: '$.a' }, 'rule.transformations[0].to: is required'],
    ['unknown field', { type: 'remove', path: '$.a', paths: [] }, 'rule.transformations[0].paths: unknown field'],
    ['root target', { type: 'set', path: '$', value: 1 }, 'rule.transformations[0].path: cannot be the root "$"'],
    [
      'bad unit',
      { type: 'convert', path: '$.value', from: 'ms', to: 'parsecs' },
      'rule.transformations[0].to: unknown unit "parsecs"',
    ],
    [
      'cross dimension',
      { type: 'convert', path: '$.value', from: 'ms', to: 'MB' },
      'rule.transformations[0]: cannot convert ms (time) to MB (data)',
    ],
    [
      'bad template path',
      { type: 'template', path: '$.t', template: 'hi {{ name }}' },
      'rule.transformations[0].template placeholder "{{ name }}": path "name" must start with "$"',
    ],
    [
      'unclosed template',
      { type: 'template', path: '$.t', template: 'hi {{ $.name' },
      'rule.transformations[0].template: unclosed "{{"',
    ],
    ['keep empty', { type: 'keep', paths: [] }, 'rule.transformations[0].paths: must be a non-empty array'],
    [
      'map not object',
      { type: 'map', path: '$.a', mapping: ['x'] },
      'rule.transformations[0].mapping: must be an object',
    ],
    ['not an object', 'rename', 'rule.transformations[0]: a transformation must be an object'],
  ];
  test.each(cases)('%s', (_name, transformation, message) => {
    expect(() => compileRule({ transformations: [transformation] })).toThrow(RuleCompileError);
    expect(validateRule({ transformations: [transformation] }).join('\n')).toContain(message);
  });

  test('transformations must be an array', () => {
    expect(validateRule({ transformations: { type: 'remove' } })).toEqual([
      'rule.transformations: must be an array, not {"type":"remove"}',
    ]);
  });
});

describe('units', () => {
  const cases: [string, string, number, number][] = [
    ['ms', 's', 1500, 1.5],
    ['s', 'ms', 2, 2000],
    ['h', 'min', 1.5, 90],
    ['bytes', 'KB', 2500, 2.5],
    ['MB', 'bytes', 3, 3_000_000],
    ['GiB', 'MiB', 1, 1024],
    ['bytes', 'GB', 5e9, 5],
    ['percent', 'ratio', 25, 0.25],
    ['celsius', 'fahrenheit', 100, 212],
    ['fahrenheit', 'celsius', 32, 0],
    ['kelvin', 'celsius', 273.15, 0],
  ];
  test.each(cases)('%s → %s', (from, to, input, output) => {
    const convert = unitConverter(from as never, to as never);
    if (typeof convert === 'string') throw new Error(convert);
    expect(convert(input)).toBeCloseTo(output, 9);
  });
});

describe('compileTemplate', () => {
  test('renders and refuses bad placeholders', () => {
    expect(compileTemplate('Hello {{ $.user.name }}!')({ user: { name: 'Ada' } })).toBe('Hello Ada!');
    expect(compileTemplate('no placeholders')({})).toBe('no placeholders');
    expect(() => compileTemplate('{{ $..x }}', 'config.text')).toThrow(
      'config.text placeholder "{{ $..x }}": recursive descent',
    );
  });
});
