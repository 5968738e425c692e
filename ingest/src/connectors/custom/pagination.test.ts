import { ConfigurationError } from '@muxly/common';
import type { CustomHttpConfig } from './config.ts';
import { nextLink, nextPage } from './pagination.ts';

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

describe('next links stay on the configured host', () => {
  const state = { url: new URL('https://api.example.com/v1/items'), position: 0 };
  const linkConfig = { pagination: { type: 'link' } } as unknown as CustomHttpConfig;
  const cursorConfig = {
    pagination: { type: 'cursor', nextPath: '$.next', param: 'cursor' },
  } as unknown as CustomHttpConfig;
  const answer = (link?: string) => ({ status: 200, headers: link ? { link } : {}, body: '' }) as never;

  it('follows a Link or a next URL on the same origin', () => {
    expect(nextPage(linkConfig, state, answer('</v1/items?page=2>; rel="next"'), {}, 1)?.url.href).toBe(
      'https://api.example.com/v1/items?page=2',
    );
    expect(nextPage(cursorConfig, state, answer(), { next: 'https://api.example.com/v1/items?c=2' }, 1)?.url.href).toBe(
      'https://api.example.com/v1/items?c=2',
    );
  });

  it.each([
    ['a Link to another host', linkConfig, answer('<https://collector.example.net/x>; rel="next"'), {}],
    ['a Link to another scheme', linkConfig, answer('<http://api.example.com/v1/items?page=2>; rel="next"'), {}],
    ['a next URL to another host', cursorConfig, answer(), { next: 'https://collector.example.net/x' }],
    ['a next URL to another port', cursorConfig, answer(), { next: 'https://api.example.com:8443/x' }],
  ])('stops with a configuration error on %s', (_name, config, response, body) => {
    expect(() => nextPage(config, state, response, body, 1)).toThrow(ConfigurationError);
    expect(() => nextPage(config, state, response, body, 1)).toThrow(/followed only on the configured host/);
  });
});
