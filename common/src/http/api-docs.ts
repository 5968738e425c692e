import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

// An API's OpenAPI document served with Swagger UI, for people: `/docs` is the UI, with the
// document at `/docs/openapi.yaml` and `/docs/openapi.json`. Swagger UI comes from the
// swagger-ui-dist package and is served by the service itself: the page makes no request to any
// other host (no CDN, no online validator), so it works offline and leaks nothing.
// "Authorize" takes a token for the document's security schemes; "Try it out" then calls this
// same service (the page points the document's server at its own origin).

const ASSETS_DIR = dirname(fileURLToPath(import.meta.resolve('swagger-ui-dist/package.json')));
const ASSETS: Record<string, { file: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
  'favicon-32x32.png': { file: 'favicon-32x32.png', type: 'image/png' },
};

// The page's own script (a file, not inline, so the Content-Security-Policy allows no inline script).
const INIT_SCRIPT = `window.addEventListener('load', async () => {
  const answer = await fetch('/docs/openapi.json');
  const spec = await answer.json();
  // Try it out calls the origin this page came from, whatever host name the reader used.
  spec.servers = [{ url: window.location.origin, description: 'this server' }];
  window.ui = SwaggerUIBundle({
    spec,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
});
`;

// NOTE: Swagger UI sets style attributes and loads its icons as data: URIs; nothing else is allowed.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface ApiDocs {
  /** Answers GET/HEAD under /docs; returns false for any other request. */
  handle(request: IncomingMessage, response: ServerResponse): boolean;
}

/** Serves one OpenAPI document (a YAML file) with Swagger UI under /docs. */
export function createApiDocs(openApiPath: string): ApiDocs {
  const yaml = readFileSync(openApiPath, 'utf8');
  const document = parseYaml(yaml) as { info?: { title?: string } };
  const json = JSON.stringify(document);
  const title = escapeHtml(document.info?.title ?? 'API');
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<noscript>Swagger UI needs JavaScript. The document itself: <a href="/docs/openapi.yaml">openapi.yaml</a>, <a href="/docs/openapi.json">openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;
  // NOTE: the bundle is 1.5 MB: read on the first request for it, not at start (RSS budget).
  const assets = new Map<string, { body: Buffer | string; type: string }>([
    ['init.js', { body: INIT_SCRIPT, type: 'text/javascript; charset=utf-8' }],
  ]);
  const asset = (name: string) => {
    if (!assets.has(name) && Object.hasOwn(ASSETS, name))
      assets.set(name, { body: readFileSync(join(ASSETS_DIR, ASSETS[name]!.file)), type: ASSETS[name]!.type });
    return assets.get(name);
  };

  const send = (request: IncomingMessage, response: ServerResponse, type: string, body: Buffer | string) => {
    response.writeHead(200, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'content-security-policy': CSP,
      'cache-control': 'no-cache',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  };

  return {
    handle(request, response) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return false;
      const path = (request.url ?? '/').split('?')[0]!;
      if (path === '/docs' || path === '/docs/') send(request, response, 'text/html; charset=utf-8', page);
      else if (path === '/docs/openapi.yaml') send(request, response, 'application/yaml; charset=utf-8', yaml);
      else if (path === '/docs/openapi.json') send(request, response, 'application/json; charset=utf-8', json);
      else if (path.startsWith('/docs/assets/') && asset(path.slice('/docs/assets/'.length))) {
        const found = asset(path.slice('/docs/assets/'.length))!;
        send(request, response, found.type, found.body);
      } else return false;
      return true;
    },
  };
}
