import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createHttpClient as createGuardedClient,
  guardedLookup,
  type GuardedHttpOptions,
  type HttpClient,
} from './client.ts';
import { AddressGuard, BlockedAddressError } from './address-guard.ts';
import { PermanentError, RetryableError, ThrottledError } from '../errors.ts';

// A loopback server stands in for the remote peer; the allow-list lets the client reach it.
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const status = Number(url.searchParams.get('status') ?? 200);
    if (url.pathname === '/slow') return void setTimeout(() => response.end('late'), 2_000).unref();
    if (url.pathname === '/big') return void response.end('x'.repeat(5_000));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const retryAfter = url.searchParams.get('retryAfter');
    if (retryAfter) headers['retry-after'] = retryAfter;
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      response.writeHead(status, headers);
      response.end(JSON.stringify({ method: request.method, body, auth: request.headers.authorization ?? null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

// Every client made by a test is closed after it, so no pooled socket outlives the test.
const clients: HttpClient[] = [];
const createHttpClient = (options?: GuardedHttpOptions): HttpClient => {
  const client = createGuardedClient(options);
  clients.push(client);
  return client;
};
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

describe('createHttpClient', () => {
  it('refuses loopback without an allow-list entry, by literal and by name', async () => {
    const client = createHttpClient();
    await expect(client.request({ url: `${base}/` })).rejects.toBeInstanceOf(BlockedAddressError);
    const port = new URL(base).port;
    await expect(client.request({ url: `http://localhost:${port}/` })).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(client.request({ url: `http://[::1]:${port}/` })).rejects.toBeInstanceOf(BlockedAddressError);
  });

  it('sends and receives when the allow-list names the address', async () => {
    const client = createHttpClient({ allow: ['127.0.0.1/32'] });
    const response = await client.request({
      method: 'POST',
      url: `${base}/echo`,
      body: '{"a":1}',
      headers: { authorization: 'Bearer t' },
    });
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ method: 'POST', body: '{"a":1}', auth: 'Bearer t' });
  });

  it('allows by host name at connect time', async () => {
    const client = createHttpClient({ allow: ['localhost'] });
    const port = new URL(base).port;
    // localhost may resolve to ::1 first; the server listens on 127.0.0.1 only, so both families are tried.
    const response = await client.request({ url: `http://localhost:${port}/` }).catch((error: unknown) => error);
    expect(response).not.toBeInstanceOf(BlockedAddressError);
  });

  it.each([
    [429, ThrottledError, 3000],
    [503, RetryableError, 3000],
    [408, RetryableError, 3000],
    [404, PermanentError, undefined],
  ])('maps status %i', async (status, errorClass, retryAfterMs) => {
    const client = createHttpClient({ allow: ['127.0.0.1'] });
    const error = await client
      .request({ url: `${base}/?status=${status}&retryAfter=3` })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(errorClass);
    if (retryAfterMs !== undefined) expect((error as RetryableError).retryAfterMs).toBe(retryAfterMs);
  });

  it('returns accepted statuses instead of throwing', async () => {
    const client = createHttpClient({ allow: ['127.0.0.1'] });
    const response = await client.request({ url: `${base}/?status=404`, acceptStatus: () => true });
    expect(response.status).toBe(404);
  });

  it('times out as a retryable error', async () => {
    const client = createHttpClient({ allow: ['127.0.0.1'], timeoutMs: 200 });
    await expect(client.request({ url: `${base}/slow` })).rejects.toThrow(/within 200 ms/);
  });

  it('caps the response size', async () => {
    const client = createHttpClient({ allow: ['127.0.0.1'], maxResponseBytes: 1000 });
    await expect(client.request({ url: `${base}/big` })).rejects.toThrow(/exceeds 1000 bytes/);
  });

  it('maps connection failures to RetryableError', async () => {
    const client = createHttpClient({ allow: ['127.0.0.1'] });
    await expect(client.request({ url: 'http://127.0.0.1:1/' })).rejects.toBeInstanceOf(RetryableError);
  });

  it('reuses pooled connections and closes them on close()', async () => {
    const client = createHttpClient({ allow: ['127.0.0.1'] });
    await client.request({ url: `${base}/a` });
    await client.request({ url: `${base}/b` });
    client.close();
    // A closed client's pool is gone; a new request still works on a fresh socket.
    await expect(client.request({ url: `${base}/c` })).resolves.toMatchObject({ status: 200 });
    client.close();
  });

  it('assertAllowed checks a URL for clients that open their own sockets', async () => {
    await expect(createHttpClient().assertAllowed('http://127.0.0.1:9/')).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(createHttpClient().assertAllowed('http://localhost:9/')).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(
      createHttpClient({ allow: ['127.0.0.0/8', '::1'] }).assertAllowed('http://localhost:9/'),
    ).resolves.toBeUndefined();
    await expect(createHttpClient().assertAllowed('https://8.8.8.8/')).resolves.toBeUndefined();
  });

  it('rejects unsupported schemes', async () => {
    await expect(createHttpClient().request({ url: 'file:///etc/passwd' })).rejects.toBeInstanceOf(PermanentError);
  });

  it('stops when the caller aborts', async () => {
    const client = createHttpClient({ allow: ['127.0.0.1'] });
    const controller = new AbortController();
    const pending = client.request({ url: `${base}/slow`, signal: controller.signal });
    controller.abort(new Error('stopping'));
    await expect(pending).rejects.toThrow('stopping');
  });
});

describe('guardedLookup', () => {
  it('filters resolved addresses through the guard (what a rebinding name would meet)', async () => {
    const lookup = guardedLookup(new AddressGuard());
    const error = await new Promise<Error | null>((resolve) =>
      lookup('localhost', { all: true }, (caught) => resolve(caught)),
    );
    expect(error).toBeInstanceOf(BlockedAddressError);
  });
});
