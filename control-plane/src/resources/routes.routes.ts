import { Router } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ControlPlaneContext } from '../context.ts';
import { ConnectorEntity, RouteEntity, RouteRuleEntity, RoutingRuleEntity, type Route } from '../db/entities.ts';
import { checkIfMatch, setEtag } from '../http/concurrency.ts';
import { conflict, unprocessable } from '../http/problem.ts';
import {
  inTransaction,
  newId,
  pageQuery,
  param,
  queryString,
  listPage,
  loadOr404,
  type Operation,
  enabledAndNameFilters,
} from './common.ts';

// Routes: which rules apply to the events of one source (a connector, or the ingest API when
// connectorId is null). The rule order is kept (route_rules.position).

const PATH = '/api/v1/routes';

interface RouteBody {
  id?: string;
  name?: string;
  connectorId?: string | null;
  ruleIds?: string[];
  enabled?: boolean;
  errorHandling?: Record<string, unknown>;
}

export async function loadRuleIds(em: EntityManager, routeId: string): Promise<string[]> {
  return (await loadRuleIdsOf(em, [routeId])).get(routeId) ?? [];
}

/** The rule ids of many routes in one query (a list page), each in its order. */
async function loadRuleIdsOf(em: EntityManager, routeIds: string[]): Promise<Map<string, string[]>> {
  const links = await em.find(
    RouteRuleEntity,
    { routeId: { $in: routeIds } },
    { orderBy: { routeId: 'asc', position: 'asc' } },
  );
  const result = new Map<string, string[]>(routeIds.map((id) => [id, []]));
  for (const link of links) result.get(link.routeId)?.push(link.ruleId);
  return result;
}

export function toConfigObject(route: Route, ruleIds: string[]) {
  return {
    id: route.id,
    name: route.name,
    connectorId: route.connectorId ?? null,
    ruleIds,
    enabled: route.enabled,
    errorHandling: { onFailure: 'dead-letter', ...route.errorHandling },
  };
}

const toDto = (route: Route, ruleIds: string[]) => ({
  ...toConfigObject(route, ruleIds),
  version: route.version,
  createdAt: route.createdAt.toISOString(),
  updatedAt: route.updatedAt.toISOString(),
});

export async function checkReferences(em: EntityManager, body: RouteBody): Promise<void> {
  const errors = [];
  if (body.connectorId && !(await em.findOne(ConnectorEntity, { id: body.connectorId }, { fields: ['id'] }))) {
    errors.push({ pointer: '/connectorId', detail: `connector "${body.connectorId}" does not exist` });
  }
  if (body.ruleIds) {
    const found = new Set(
      (await em.find(RoutingRuleEntity, { id: { $in: body.ruleIds } }, { fields: ['id'] })).map((r) => r.id),
    );
    body.ruleIds.forEach((id, index) => {
      if (!found.has(id)) errors.push({ pointer: `/ruleIds/${index}`, detail: `routing rule "${id}" does not exist` });
    });
  }
  if (errors.length > 0)
    throw unprocessable(
      `the route refers to objects that do not exist: ${errors.map((e) => e.detail).join('; ')}`,
      errors,
    );
}

export async function replaceRuleIds(em: EntityManager, routeId: string, ruleIds: string[]): Promise<void> {
  // Native statements, for the reason given in rules.routes.ts (replaceChildren).
  await em.nativeDelete(RouteRuleEntity, { routeId });
  await em.insertMany(
    RouteRuleEntity,
    ruleIds.map((ruleId, position) => ({ routeId, ruleId, position })),
  );
}

const loadRoute = (em: EntityManager, id: string) => loadOr404(em, RouteEntity, id, 'route');

const listRoutes: Operation = (context) => async (request, response) => {
  const page = pageQuery(request, context, 'name');
  const where = enabledAndNameFilters(request);
  const connectorId = queryString(request, 'connectorId');
  if (connectorId) where.push({ connectorId: connectorId === 'api' ? null : connectorId });
  const em = context.orm.em.fork();
  const dateFields = ['createdAt', 'updatedAt'];
  const routes = await listPage(em, RouteEntity, { page, where, dateFields, render: (row) => row });
  const ruleIds = await loadRuleIdsOf(
    em,
    routes.items.map((route) => route.id),
  );
  response.json({ ...routes, items: routes.items.map((route) => toDto(route, ruleIds.get(route.id)!)) });
};

const postRoute: Operation = (context) => async (request, response) => {
  const body = request.body as RouteBody & { name: string; ruleIds: string[] };
  const id = body.id ?? newId('rte');
  const route = await inTransaction(context, async (em) => {
    if (await em.findOne(RouteEntity, { id })) throw conflict('duplicate', `route "${id}" already exists`);
    if (await em.findOne(RouteEntity, { name: body.name }))
      throw conflict('duplicate', `a route named "${body.name}" already exists`);
    await checkReferences(em, body);
    const created = em.create(RouteEntity, {
      id,
      name: body.name,
      connectorId: body.connectorId ?? null,
      enabled: body.enabled ?? true,
      errorHandling: body.errorHandling ?? {},
    });
    await em.flush();
    await replaceRuleIds(em, id, body.ruleIds);
    return created;
  });
  await context.publisher.notify('route', id);
  setEtag(response, route.version);
  response.status(201).location(`${PATH}/${id}`).json(toDto(route, body.ruleIds));
};

const getRoute: Operation = (context) => async (request, response) => {
  const em = context.orm.em.fork();
  const route = await loadRoute(em, param(request, 'id'));
  setEtag(response, route.version);
  response.json(toDto(route, await loadRuleIds(em, route.id)));
};

const patchRoute: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  const patch = request.body as RouteBody;
  const [route, ruleIds] = await inTransaction(context, async (em) => {
    const current = await loadRoute(em, id);
    checkIfMatch(request, current.version, true);
    if (
      patch.name !== undefined &&
      patch.name !== current.name &&
      (await em.findOne(RouteEntity, { name: patch.name }))
    ) {
      throw conflict('duplicate', `a route named "${patch.name}" already exists`);
    }
    await checkReferences(em, patch);
    if (patch.name !== undefined) current.name = patch.name;
    if (patch.connectorId !== undefined) current.connectorId = patch.connectorId;
    if (patch.enabled !== undefined) current.enabled = patch.enabled;
    if (patch.errorHandling !== undefined) current.errorHandling = patch.errorHandling;
    if (patch.ruleIds) {
      await replaceRuleIds(em, id, patch.ruleIds);
      current.updatedAt = new Date();
    }
    await em.flush();
    return [current, patch.ruleIds ?? (await loadRuleIds(em, id))] as const;
  });
  await context.publisher.notify('route', id);
  setEtag(response, route.version);
  response.json(toDto(route, ruleIds));
};

const deleteRoute: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  await inTransaction(context, async (em) => {
    const route = await loadRoute(em, id);
    checkIfMatch(request, route.version, false);
    em.remove(route);
    await em.flush();
  });
  await context.publisher.notify('route', id);
  response.status(204).end();
};

export function routeRoutes(context: ControlPlaneContext): Router {
  const router = Router();
  router.get(PATH, listRoutes(context));
  router.post(PATH, postRoute(context));
  router.get(`${PATH}/:id`, getRoute(context));
  router.patch(`${PATH}/:id`, patchRoute(context));
  router.delete(`${PATH}/:id`, deleteRoute(context));
  return router;
}
