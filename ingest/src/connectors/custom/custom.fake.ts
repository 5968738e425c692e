import { startFakeServer, type FakeServer } from '../toolkit/testing/fake-server.ts';

// A typical JSON REST API for the custom HTTP connector: items sorted by updated_at, filtered by
// `since`, paged in any of the styles the connector supports, guarded by a bearer token, plus an
// OAuth2 token endpoint (RFC 6749 client credentials) and a Link-header variant.

export interface Item {
  id: string;
  updated_at: string;
  plan: string;
  seats: number;
}

export interface FakeCustomApi extends FakeServer {
  items: Item[];
}

export const CUSTOM_TOKEN = 'custom-secret-token';
export const OAUTH_CLIENT = { id: 'client-1', secret: 'client-secret-1' };

export async function startFakeCustomApi(items: Item[]): Promise<FakeCustomApi> {
  const state = { items };
  let issued = 0;
  const server = await startFakeServer((request) => {
    if (request.path === '/oauth/token') {
      const expected = `Basic ${Buffer.from(`${OAUTH_CLIENT.id}:${OAUTH_CLIENT.secret}`).toString('base64')}`;
      const form = new URLSearchParams(request.body);
      if (request.headers.authorization !== expected || form.get('grant_type') !== 'client_credentials') {
        return { status: 401, body: { error: 'invalid_client' } };
      }
      issued += 1;
      return { body: { access_token: `oauth-token-${issued}`, token_type: 'Bearer', expires_in: 3600 } };
    }
    const auth = request.headers.authorization ?? '';
    if (
      auth !== `Bearer ${CUSTOM_TOKEN}` &&
      !auth.startsWith('Bearer oauth-token-') &&
      request.query.get('api_key') !== CUSTOM_TOKEN
    ) {
      return { status: 401, body: { error: 'unauthorized' } };
    }
    if (request.path === '/v1/admin/items')
      return { status: 403, body: { error: 'forbidden', message: 'this token may not read admin items' } };
    const since = request.query.get('since') ?? '';
    const matching = state.items
      .filter((item) => item.updated_at >= since)
      .sort((a, b) => a.updated_at.localeCompare(b.updated_at));
    if (request.path === '/v1/items') {
      // Cursor style: ?cursor=<index>, answer { data, meta: { next } }.
      const start = Number(request.query.get('cursor') ?? 0);
      const size = Number(request.query.get('limit') ?? 2);
      const next = start + size < matching.length ? String(start + size) : null;
      return { body: { data: matching.slice(start, start + size), meta: { next } } };
    }
    if (request.path === '/v1/items-offset') {
      const offset = Number(request.query.get('offset') ?? 0);
      const limit = Number(request.query.get('limit') ?? 2);
      return { body: { results: matching.slice(offset, offset + limit) } };
    }
    if (request.path === '/v1/items-page') {
      const page = Number(request.query.get('page') ?? 1);
      const size = Number(request.query.get('per_page') ?? 2);
      return { body: { results: matching.slice((page - 1) * size, page * size) } };
    }
    if (request.path === '/v1/items-link') {
      const page = Number(request.query.get('page') ?? 1);
      const size = 2;
      const headers: Record<string, string> = {};
      if (page * size < matching.length) {
        const next = new URL(`http://127.0.0.1${request.path}`);
        next.searchParams.set('page', String(page + 1));
        if (since) next.searchParams.set('since', since);
        headers.link = `<${next.pathname}${next.search}>; rel="next", </v1/items-link?page=1>; rel="first"`;
      }
      return { headers, body: matching.slice((page - 1) * size, page * size) };
    }
    return { status: 404, body: { error: 'not found' } };
  });
  return Object.assign(server, state);
}
