import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The harness under every fake SaaS server: a loopback HTTP server that records requests and can
// be told to answer the next matching requests with a fault (429, 5xx, 401) before serving
// normally again, so tests drive retries and failures deterministically.

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Fault {
  /** Only requests whose path matches; all when absent. */
  path?: RegExp;
  status: number;
  headers?: Record<string, string>;
  body: unknown;
  /** How many matching requests get this fault. Default 1. */
  times?: number;
}

export interface FakeAnswer {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}

export type FakeHandler = (request: RecordedRequest) => FakeAnswer | Promise<FakeAnswer>;

export interface FakeServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Answers the next matching requests with this fault. */
  fail(fault: Fault): void;
  close(): Promise<void>;
}

export async function startFakeServer(handler: FakeHandler): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const faults: (Fault & { remaining: number })[] = [];
  const server = http.createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const url = new URL(incoming.url ?? '/', 'http://fake');
      const request: RecordedRequest = {
        method: incoming.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: incoming.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      const fault = faults.find(
        (candidate) => candidate.remaining > 0 && (!candidate.path || candidate.path.test(request.path)),
      );
      const answer: Promise<FakeAnswer> = fault
        ? Promise.resolve(
            ((fault.remaining -= 1), { status: fault.status, headers: fault.headers ?? {}, body: fault.body }),
          )
        : Promise.resolve().then(() => handler(request));
      answer
        .then((result) => {
          const text = typeof result.body === 'string' ? result.body : JSON.stringify(result.body);
          outgoing.writeHead(result.status ?? 200, {
            'content-type': 'application/json; charset=utf-8',
            ...(result.headers ?? {}),
          });
          outgoing.end(text);
        })
        .catch((error: unknown) => {
          outgoing.writeHead(500, { 'content-type': 'application/json' });
          outgoing.end(JSON.stringify({ error: String(error) }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    fail: (fault) => faults.push({ ...fault, remaining: fault.times ?? 1 }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
