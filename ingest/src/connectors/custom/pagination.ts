import { ConfigurationError, type HttpResponse } from '@muxly/common';
import { compilePath } from '../toolkit/json-path.ts';
import type { CustomHttpConfig } from './config.ts';

// Computes the next request URL from the current one and its answer; undefined ends the read.

export interface PageState {
  url: URL;
  /** Page number or offset, for those styles. */
  position: number;
}

export function firstPage(config: CustomHttpConfig, url: URL): PageState {
  const pagination = config.pagination;
  const state: PageState = { url: new URL(url), position: 0 };
  if (pagination.type === 'offset') {
    state.url.searchParams.set(pagination.param, '0');
    state.url.searchParams.set(pagination.limitParam, String(pagination.limit));
  } else if (pagination.type === 'page') {
    state.position = pagination.startPage;
    state.url.searchParams.set(pagination.param, String(pagination.startPage));
    if (pagination.sizeParam) state.url.searchParams.set(pagination.sizeParam, String(pagination.size));
  }
  return state;
}

export function nextPage(
  config: CustomHttpConfig,
  state: PageState,
  response: HttpResponse,
  body: unknown,
  recordCount: number,
): PageState | undefined {
  const pagination = config.pagination;
  switch (pagination.type) {
    case 'none':
      return undefined;
    case 'cursor': {
      const token = compilePath(pagination.nextPath).first(body);
      if (token === undefined || token === null || token === '') return undefined;
      const text = String(token);
      // Some APIs give the whole next URL instead of a token.
      if (/^https?:\/\//.test(text)) return { url: sameOrigin(new URL(text), state.url), position: state.position + 1 };
      const url = new URL(state.url);
      url.searchParams.set(pagination.param, text);
      return { url, position: state.position + 1 };
    }
    case 'offset': {
      if (recordCount < pagination.limit) return undefined;
      const url = new URL(state.url);
      const position = state.position + recordCount;
      url.searchParams.set(pagination.param, String(position));
      return { url, position };
    }
    case 'page': {
      if (recordCount === 0 || recordCount < pagination.size) return undefined;
      const url = new URL(state.url);
      url.searchParams.set(pagination.param, String(state.position + 1));
      return { url, position: state.position + 1 };
    }
    case 'link': {
      const next = nextLink(response.headers.link, state.url);
      return next ? { url: sameOrigin(next, state.url), position: state.position + 1 } : undefined;
    }
  }
}

/**
 * A next-page URL the answer names, refused unless it is on the configured origin: every request
 * carries the connector's credential, so a page that links elsewhere (a compromised or hostile
 * API) must not receive it.
 */
function sameOrigin(next: URL, current: URL): URL {
  if (next.origin !== current.origin)
    throw new ConfigurationError(
      `pagination: the next page is at ${next.origin}, not at the configured ${current.origin}; next links are followed only on the configured host (with the credential), so the read stops here`,
    );
  return next;
}

/** The rel="next" target of an RFC 8288 Link header, resolved against the current URL. */
export function nextLink(header: string | string[] | undefined, base: URL): URL | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return undefined;
  for (const match of text.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]+)*)/g)) {
    const params = match[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (relations.includes('next')) return new URL(match[1]!, base);
  }
  return undefined;
}
