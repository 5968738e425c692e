import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup, promises as dnsPromises, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { PermanentError, RetryableError } from '../errors.ts';
import { AddressGuard, BlockedAddressError } from './address-guard.ts';
import { errorForStatus } from './status-errors.ts';

// The guarded outbound HTTP client shared by the router's webhook destination and the custom HTTP
// connector. NOTE: the address check runs inside the socket's DNS lookup, on the very address the
// socket connects to. Checking the URL's host before the request and letting Node resolve it again
// would leave a window for DNS rebinding (a name that answers public first, 127.0.0.1 second).

export interface GuardedHttpOptions {
  /** CIDRs, addresses or host names that may be reached even though they are internal. */
  allow?: readonly string[];
  /** Longest time for the whole exchange, connect to last byte. Default 10 s. */
  timeoutMs?: number;
  /** Largest accepted response body. Default 10 MiB. */
  maxResponseBytes?: number;
  userAgent?: string;
}

export interface HttpRequest {
  method?: string;
  url: string | URL;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Statuses returned instead of thrown. By default only 2xx are returned; anything else throws
   * RetryableError / ThrottledError / PermanentError (status-errors.ts).
   */
  acceptStatus?: (status: number) => boolean;
}

export interface HttpResponse {
  status: number;
  /** Lower-cased names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  /** Parses the body as JSON; a body that is not JSON is a PermanentError. */
  json<T = unknown>(): T;
}

export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
  /**
   * Resolves the URL's host now and throws BlockedAddressError unless every address is permitted.
   * For libraries that open their own sockets (SaaS clients with an endpoint override): weaker than
   * the connect-time check of request(), which is the one to prefer.
   */
  assertAllowed(url: string | URL): Promise<void>;
  /** Closes idle pooled connections; call once when the owner stops. */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/** A DNS lookup for node:http that only yields addresses the guard permits. */
export function guardedLookup(guard: AddressGuard): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const permitted = addresses.filter((entry) => guard.permits(hostname, entry.address));
      if (permitted.length === 0) {
        const blocked = new BlockedAddressError(hostname, addresses[0]?.address ?? 'no address');
        return callback(Object.assign(blocked, { code: 'EMUXLYBLOCKED' }), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, permitted);
      callback(null, permitted[0]!.address, permitted[0]!.family);
    });
  };
}

export function createHttpClient(options: GuardedHttpOptions = {}): HttpClient {
  const guard = new AddressGuard({ allow: options.allow ?? [] });
  const lookup = guardedLookup(guard);
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  // Pooled sockets are safe to reuse: each was checked by the guarded lookup when it connected,
  // and the pool is keyed by host and port, so a reused socket goes where it was allowed to go.
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };

  return {
    async assertAllowed(target) {
      const url = typeof target === 'string' ? parseUrl(target) : target;
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0) return guard.assert(host, host);
      if (guard.hostAllowed(host)) return;
      const addresses = await dnsPromises.lookup(host, { all: true }).catch((error: Error) => {
        throw new RetryableError(`cannot resolve ${host}: ${error.message}`, { cause: error });
      });
      for (const entry of addresses) guard.assert(host, entry.address);
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
    async request(request) {
      const url = typeof request.url === 'string' ? parseUrl(request.url) : request.url;
      // Address literals never reach the lookup (Node connects directly), so check them here.
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0) guard.assert(host, host);
      const timeoutMs = request.timeoutMs ?? defaultTimeout;
      const headers: Record<string, string> = { ...(request.headers ?? {}) };
      if (options.userAgent && !hasHeader(headers, 'user-agent')) headers['user-agent'] = options.userAgent;
      if (request.body !== undefined && !hasHeader(headers, 'content-length')) {
        headers['content-length'] = String(Buffer.byteLength(request.body));
      }
      return send(url, request, headers, {
        lookup,
        timeoutMs,
        maxBytes,
        agent: url.protocol === 'https:' ? agents.https : agents.http,
      });
    },
  };
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PermanentError(`invalid URL "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PermanentError(`unsupported URL scheme "${url.protocol}" (only http and https)`);
  }
  return url;
}

const hasHeader = (headers: Record<string, string>, name: string): boolean =>
  Object.keys(headers).some((key) => key.toLowerCase() === name);

function send(
  url: URL,
  request: HttpRequest,
  headers: Record<string, string>,
  limits: { lookup: LookupFunction; timeoutMs: number; maxBytes: number; agent: http.Agent },
): Promise<HttpResponse> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, response?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(response!);
    };
    const onAbort = (): void => {
      outgoing.destroy();
      finish(request.signal?.reason instanceof Error ? request.signal.reason : new Error('request aborted'));
    };
    const timer = setTimeout(() => {
      outgoing.destroy();
      finish(
        new RetryableError(`${request.method ?? 'GET'} ${url.host}: no complete answer within ${limits.timeoutMs} ms`),
      );
    }, limits.timeoutMs);

    const outgoing = transport.request(
      url,
      { method: request.method ?? 'GET', headers, lookup: limits.lookup, agent: limits.agent },
      (incoming) => {
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limits.maxBytes) {
            incoming.destroy();
            outgoing.destroy();
            finish(new PermanentError(`answer from ${url.host} exceeds ${limits.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        incoming.on('error', (error) =>
          finish(new RetryableError(`reading answer from ${url.host}: ${error.message}`, { cause: error })),
        );
        incoming.on('end', () => {
          const status = incoming.statusCode ?? 0;
          const body = Buffer.concat(chunks);
          const response = makeResponse(status, incoming.headers, body, url);
          const accepted = request.acceptStatus ? request.acceptStatus(status) : status >= 200 && status < 300;
          if (accepted) finish(undefined, response);
          else finish(errorForStatus(status, incoming.headers, excerpt(body)));
        });
      },
    );
    outgoing.on('error', (error: Error & { code?: string }) => {
      if (error instanceof BlockedAddressError) return finish(error);
      // Connection refused, reset, DNS failure: the peer may come back.
      finish(
        new RetryableError(`${request.method ?? 'GET'} ${url.host}: ${error.code ?? error.message}`, { cause: error }),
      );
    });
    if (request.signal?.aborted) return onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.end(request.body);
  });
}

function makeResponse(status: number, headers: http.IncomingHttpHeaders, body: Buffer, url: URL): HttpResponse {
  return {
    status,
    headers,
    body,
    text: () => body.toString('utf8'),
    json<T>() {
      try {
        return JSON.parse(body.toString('utf8')) as T;
      } catch {
        throw new PermanentError(`answer from ${url.host} is not JSON (status ${status})`);
      }
    },
  };
}

/** A short, single-line excerpt of an error answer for messages. */
function excerpt(body: Buffer): string {
  return body.subarray(0, 300).toString('utf8').replace(/\s+/g, ' ').trim();
}
