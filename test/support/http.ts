import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * An HTTP server for a fake third party whose handler is async. node:http ignores the promise a
 * listener returns, so a handler that throws would leave the request hanging and surface as an
 * unhandled rejection: here the failure answers 500 with the message, which the test then sees.
 */
export function createAsyncServer(
  handler: (request: IncomingMessage, response: ServerResponse) => Promise<unknown>,
): Server {
  return createServer((request, response) => {
    handler(request, response).catch((error: unknown) => {
      if (response.headersSent) return void response.destroy(error as Error);
      response.writeHead(500, { 'content-type': 'text/plain' }).end(`fake server failed: ${(error as Error).message}`);
    });
  });
}
