import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { problem, PROBLEM_CONTENT_TYPE } from '@muxly/common';

/** Connections this handler answered itself: a route still reading such a request must not answer or count it again. */
const answeredConnections = new WeakSet<object>();

export function answeredByServer(request: IncomingMessage): boolean {
  return answeredConnections.has(request.socket);
}

/**
 * Answers, as problem+json and counted like every other rejection, what Node's HTTP layer refuses
 * before or while a route runs: a client too slow with its headers or its whole request (408,
 * `ingest.clientTimeouts`), headers over Node's size limit (431), bytes that are not HTTP (400).
 * Without this listener Node would answer them with a bare status line, uncounted.
 */
export function answerClientErrors(server: Server, onRejected: (status: number, reason: string) => void): void {
  // The response in progress on each connection: once its head is out, nothing else may be written.
  const responses = new WeakMap<object, ServerResponse>();
  server.on(
    'request',
    (request: IncomingMessage, response: ServerResponse) => void responses.set(request.socket, response),
  );

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable || responses.get(socket)?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, reason, detail] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request-timeout', 'The request was not received in time; the connection is closed.']
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers-too-large', 'The request headers are larger than the server accepts.']
          : [400, 'bad-http', 'The request is not valid HTTP/1.1.'];
    answeredConnections.add(socket);
    onRejected(status, reason);
    const body = JSON.stringify(problem(status, detail, { type: `https://muxly.dev/problems/${reason}` }));
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
    ];
    // NOTE: close once the answer is flushed; a client still trickling bytes must not keep it open.
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  });
}
