import { nextLink } from './pagination.ts';

describe('nextLink (RFC 8288)', () => {
  const base = new URL('https://api.example.com/v1/items?page=1');
  it.each([
    ['<https://api.example.com/v1/items?page=2>; rel="next"', 'https://api.example.com/v1/items?page=2'],
    ['</v1/items?page=2>; rel="next", </v1/items?page=9>; rel="last"', 'https://api.example.com/v1/items?page=2'],
    ['</v1/items?page=1>; rel="prev first", </v1/items?page=3>; rel=next', 'https://api.example.com/v1/items?page=3'],
    ['</v1/items?page=9>; rel="last"', undefined],
    [undefined, undefined],
  ])('%s', (header, expected) => {
    expect(nextLink(header, base)?.href).toBe(expected);
  });
});
