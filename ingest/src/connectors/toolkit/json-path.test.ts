import { compilePath } from './json-path.ts';

const document = {
  data: [
    { id: 1, tags: ['a', 'b'], 'odd key': true },
    { id: 2, tags: [], nested: { deep: 'x' } },
  ],
  meta: { next: 'token-2', count: 2 },
};

describe('compilePath', () => {
  it.each([
    ['$', [document]],
    ['$.meta.next', ['token-2']],
    ["$['meta']['count']", [2]],
    ['$.data[*].id', [1, 2]],
    ['$.data[0].tags[*]', ['a', 'b']],
    ['$.data[-1].nested.deep', ['x']],
    ["$.data[0]['odd key']", [true]],
    ['$.meta.*', ['token-2', 2]],
    ['$.missing.path', []],
    ['$.data[5]', []],
  ])('%s', (path, expected) => {
    expect(compilePath(path).all(document)).toEqual(expected);
  });

  it('does not reach prototype members', () => {
    expect(compilePath('$.constructor').all({})).toEqual([]);
    expect(compilePath('$.data.length').all(document)).toEqual([]);
  });

  it.each([
    ['data.id', /starts with \$/],
    ['$..id', /recursive descent/],
    ['$.data[?(@.id > 1)]', /filters are not supported/],
    ['$.data[0', /unclosed/],
    ['$ data', /unexpected/],
  ])('rejects %s', (path, message) => {
    expect(() => compilePath(path)).toThrow(message);
  });
});
