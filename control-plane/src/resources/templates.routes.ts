import { Router } from 'express';
import type { ControlPlaneContext } from '../context.ts';
import { notFound } from '../http/problem.ts';
import type { PluginTemplate, TemplateKind } from '../templates/catalog.ts';
import { param, queryString } from './common.ts';

const toDto = (template: PluginTemplate) => ({
  kind: template.kind,
  type: template.type,
  description: template.description,
  configSchema: template.configSchema,
  defaults: template.defaults,
  required: template.required,
  secrets: template.secrets ?? [],
  ...(template.credentialsSchema ? { credentialsSchema: template.credentialsSchema } : {}),
  checkable: typeof template.check === 'function',
});

export function templateRoutes(context: ControlPlaneContext): Router {
  const router = Router();
  router.get('/api/v1/templates', (request, response) => {
    const kind = queryString(request, 'kind') as TemplateKind | undefined;
    response.json({ items: context.templates.list(kind).map(toDto) });
  });
  router.get('/api/v1/templates/:kind/:type', (request, response) => {
    const template = context.templates.get(param(request, 'kind') as TemplateKind, param(request, 'type'));
    if (!template) throw notFound(`${param(request, 'kind')} template`, param(request, 'type'));
    response.json(toDto(template));
  });
  return router;
}
