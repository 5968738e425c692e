import { compileGetter, compileSelector, parsePath, parseSelector, PathSyntaxError } from './json-path.ts';

const document = {
  data: [
    { id: 1, tags: ['a', 'b'], 'odd key': true, 'x-y': 'dash' },
    { id: 2, tags: [], nested: { deep: 'x' } },
  ],
  meta: { next: 'token-2', count: 2, "it's": 'quoted' },
};

const select = (path: string) => compileSelector(parseSelector(path))(document);
const get = (path: string) => compileGetter(parsePath(path))(document);

describe('one dialect for paths (rules) and selectors (connectors)', () => {
  it.each([
    ['$', document],
    ['$.meta.next', 'token-2'],
    ["$['meta']['count']", 2],
    ['$["meta"]["count"]', 2],
    ["$.meta['it\\'s']", 'quoted'],
    ["$.data[0]['odd key']", true],
    ['$.data[0].x-y', 'dash'],
    ["$.data[0]['x-y']", 'dash'],
    ['$.data[1].nested.deep', 'x'],
    ['$.data[0].tags[1]', 'b'],
    ['$.data.length', 2],
    ['$.missing.path', undefined],
    ['$.data[5]', undefined],
    ['$.meta.next.deeper', undefined],
  ])('%s reads the same as a path and as a selector', (path, expected) => {
    expect(get(path)).toEqual(expected);
    expect(select(path)).toEqual(expected === undefined ? [] : [expected]);
  });

  it.each([
    ['$.data[*].id', [1, 2]],
    ['$.data[0].tags[*]', ['a', 'b']],
    ['$.data[-1].nested.deep', ['x']],
    ['$.data[-3]', []],
    ['$.meta.*', ['token-2', 2, 'quoted']],
    ['$.data[*].nested.deep', ['x']],
    ['$.data[*].tags[*]', ['a', 'b']],
  ])('selector %s', (path, expected) => {
    expect(select(path)).toEqual(expected);
  });

  it.each([
    ['$.data[*].id', /wildcard "\[\*\]" at position 6 .* is not supported here: this path names one field/],
    ['$.meta.*', /wildcard "\.\*"/],
    ['$.data[-1]', /index "\[-1\]"/],
  ])('a path that names one field refuses %s', (path, message) => {
    expect(() => parsePath(path)).toThrow(message);
  });

  it.each([
    ['data.id', /must start with "\$"/],
    ['$..id', /recursive descent/],
    ['$.data[?(@.id > 1)]', /filters and slices are not supported/],
    ['$.data[0:2]', /filters and slices are not supported/],
    ['$.data[0', /expected a quoted name or an array index/],
    ["$['data", /unterminated quoted name/],
    ['$ data', /unexpected " "/],
    ['$.constructor', /field name "constructor" is not allowed/],
    ["$['__proto__'].x", /field name "__proto__" is not allowed/],
    ['$.data[*].prototype', /field name "prototype" is not allowed/],
  ])('refuses %s, as a path and as a selector', (path, message) => {
    expect(() => parsePath(path)).toThrow(PathSyntaxError);
    expect(() => parseSelector(path)).toThrow(message);
  });
});
