import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Request, type Response } from 'express';

// The web console: static files (HTML, ES modules, one stylesheet) served by the control plane
// under /console, on the same origin as the API it calls. There is no build step: the files in
// control-plane/console are what the browser runs.

const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

// Only this origin: no inline script or style, no frame, no form posting elsewhere. The API
// calls are fetches to the same origin; with Keycloak SSO, the browser also trades the sign-in
// code and refresh tokens at the realm's token endpoint, so that one origin (from the settings,
// never a wildcard) is allowed to be fetched too. Going to the realm's sign-in and sign-out pages
// is a navigation, which connect-src does not govern.
export function consoleCsp(connectOrigins: string[] = []): string {
  const connect = ["'self'", ...connectOrigins].join(' ');
  return (
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; ` +
    "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
  );
}

interface ConsoleFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** Every file of the console, keyed by its path under /console/ (read once: the whole console is a few dozen KB). */
function readConsoleFiles(dir = CONSOLE_DIR): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (Object.hasOwn(TYPES, extname(name))) {
        const body = readFileSync(path);
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
        files.set(relative(dir, path).split(sep).join('/'), { body, type: TYPES[extname(name)]!, etag });
      }
    }
  };
  walk(dir);
  return files;
}

/**
 * GET/HEAD /console and /console/<file>; anything else under /console is a 404 problem from the app.
 * `connectOrigins`: origins besides this one the console may fetch (the SSO realm's).
 */
export function consoleRoutes(options: { connectOrigins?: string[]; files?: Map<string, ConsoleFile> } = {}): Router {
  const files = options.files ?? readConsoleFiles();
  const csp = consoleCsp(options.connectOrigins);
  const router = Router();
  const send = (request: Request, response: Response, file: ConsoleFile) => {
    // NOTE: the files have no content hash in their names, so browsers revalidate every time
    // (no-cache) and the ETag makes that a 304 with no body; a new release is seen at once.
    response.setHeader('Cache-Control', 'no-cache');
    response.setHeader('ETag', file.etag);
    response.setHeader('Content-Security-Policy', csp);
    response.setHeader('Referrer-Policy', 'no-referrer');
    response.setHeader('X-Frame-Options', 'DENY');
    if (request.get('if-none-match') === file.etag) {
      response.status(304).end();
      return;
    }
    response.status(200).type(file.type).setHeader('Content-Length', file.body.length);
    response.end(request.method === 'HEAD' ? undefined : file.body);
  };
  router.get('/console', (request, response) => send(request, response, files.get('index.html')!));
  router.get('/console/*path', (request, response, next) => {
    const path = request.path.slice('/console/'.length);
    const file = files.get(path === '' ? 'index.html' : path);
    if (!file) return next();
    send(request, response, file);
  });
  return router;
}
