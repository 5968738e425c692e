import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Router } from 'express';
import { parse as parseYaml } from 'yaml';
import { createApiDocs } from '@muxly/common';

// The control plane's OpenAPI document: read for validation and permissions, and served with
// Swagger UI for people.

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

/** Swagger UI at /docs, the document at /docs/openapi.yaml and /docs/openapi.json (common/src/http/api-docs.ts). */
export function docsRoutes(): Router {
  const docs = createApiDocs(OPENAPI_PATH);
  const router = Router();
  router.use((request, response, next) => {
    if (!docs.handle(request, response)) next();
  });
  return router;
}
