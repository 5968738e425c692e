import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Router } from 'express';
import { parse as parseYaml } from 'yaml';

// The OpenAPI document, served as YAML and JSON, and a self-contained HTML index of the
// operations (no CDN: the docs work offline and leak nothing to third parties).

export const OPENAPI_PATH = fileURLToPath(import.meta.resolve('@muxly/schemas/openapi/control-plane.yaml'));

export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths: Record<
    string,
    Record<string, { operationId?: string; summary?: string; description?: string; 'x-muxly-permission'?: string }>
  >;
}

export function readOpenApi(): { text: string; document: OpenApiDocument } {
  const text = readFileSync(OPENAPI_PATH, 'utf8');
  return { text, document: parseYaml(text) as OpenApiDocument };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function renderIndex(document: OpenApiDocument): string {
  const rows: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      rows.push(
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(operation.operationId ?? '')}</td>` +
          `<td>${escape(operation.summary ?? operation.description?.split('\n')[0] ?? '')}</td><td><code>${escape(operation['x-muxly-permission'] ?? '')}</code></td></tr>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(document.info.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}</style></head>
<body><h1>${escape(document.info.title)} <small>${escape(document.info.version)}</small></h1>
<p>The machine-readable document: <a href="/docs/openapi.yaml">openapi.yaml</a> · <a href="/docs/openapi.json">openapi.json</a>. Load either into any OpenAPI tool.</p>
<pre>${escape(document.info.description ?? '')}</pre>
<table><thead><tr><th>method</th><th>path</th><th>operation</th><th>summary</th><th>permission</th></tr></thead><tbody>${rows.join('')}</tbody></table></body></html>`;
}

export function docsRoutes(): Router {
  const { text, document } = readOpenApi();
  const json = JSON.stringify(document, null, 2);
  const html = renderIndex(document);
  const router = Router();
  router.get('/docs', (_request, response) => {
    response.type('text/html').send(html);
  });
  router.get('/docs/openapi.yaml', (_request, response) => {
    response.type('application/yaml').send(text);
  });
  router.get('/docs/openapi.json', (_request, response) => {
    response.type('application/json').send(json);
  });
  return router;
}
