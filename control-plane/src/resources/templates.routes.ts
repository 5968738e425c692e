import { Router } from 'express';
import type { ControlPlaneContext } from '../context.ts';
import { may } from '../auth/principal.ts';
import { principalOf } from '../auth/authorization.ts';
import { notFound } from '../http/problem.ts';
import type { PluginTemplate, TemplateKind } from '../templates/catalog.ts';
import {
  createInstance,
  forbiddenParts,
  permissionsFor,
  planInstance,
  resolveExample,
  type InstantiateBody,
} from '../templates/instantiate.ts';
import { toDto as jobDto } from './jobs.routes.ts';
import { ruleDto } from './rules.routes.ts';
import { inTransaction, param, queryString } from './common.ts';
import { toDto as objectDto } from './typed-object.ts';

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
  examples: template.examples ?? [],
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
  router.post('/api/v1/templates/:id/instantiate', async (request, response) => {
    const { template, example } = resolveExample(context, param(request, 'id'));
    const plan = planInstance(template.kind, template.type, example, request.body as InstantiateBody);
    // NOTE: one operation creates up to two objects: the caller needs the permission to create
    // each of them, exactly as if it sent the creates itself.
    const principal = principalOf(response);
    const missing = principal ? permissionsFor(plan).filter((permission) => !may(principal, permission)) : [];
    if (missing.length > 0) throw forbiddenParts(missing);
    const instance = await inTransaction(context, (em) => createInstance(context, em, plan));
    await context.publisher.notify(instance.kind, instance.object.id);
    if (instance.rule) await context.publisher.notify('rule', instance.rule.rule.id);
    if (instance.job) await context.publisher.notify('job', instance.job.id);
    response.status(201).json({
      example: example.id,
      [instance.kind]: objectDto(instance.object),
      ...(instance.rule ? { rule: ruleDto(instance.rule) } : {}),
      ...(instance.job ? { job: jobDto(instance.job) } : {}),
    });
  });
  return router;
}
