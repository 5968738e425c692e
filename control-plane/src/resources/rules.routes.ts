import { Router } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import { validateRule } from '@muxly/schemas';
import type { ControlPlaneContext } from '../context.ts';
import {
  DestinationEntity,
  RouteRuleEntity,
  RoutingRuleEntity,
  RuleDestinationEntity,
  RuleTransformationEntity,
  type RoutingRule,
} from '../db/entities.ts';
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
  refuseInUse,
  type Operation,
  enabledAndNameFilters,
} from './common.ts';

// Routing rules, with their transformations (rule_transformations, in order) and destinations
// (rule_destinations). The condition and transformations are checked with the same compiler the
// router runs, so a rule the API accepts is a rule the router can apply.

const PATH = '/api/v1/routing-rules';

interface RuleBody {
  id?: string;
  name?: string;
  priority?: number;
  enabled?: boolean;
  condition?: unknown;
  transformations?: unknown[];
  destinationIds?: string[];
  stopOnMatch?: boolean;
}

export interface RuleView {
  rule: RoutingRule;
  transformations: unknown[];
  destinationIds: string[];
}

export async function loadRuleView(em: EntityManager, rule: RoutingRule): Promise<RuleView> {
  return (await loadRuleViews(em, [rule]))[0]!;
}

/** The children of many rules in two queries (a list page), in each rule's order. */
export async function loadRuleViews(em: EntityManager, rules: RoutingRule[]): Promise<RuleView[]> {
  const ids = rules.map((rule) => rule.id);
  const transformations = await em.find(
    RuleTransformationEntity,
    { ruleId: { $in: ids } },
    { orderBy: { ruleId: 'asc', position: 'asc' } },
  );
  const destinations = await em.find(
    RuleDestinationEntity,
    { ruleId: { $in: ids } },
    { orderBy: { ruleId: 'asc', position: 'asc' } },
  );
  return rules.map((rule) => ({
    rule,
    transformations: transformations.filter((t) => t.ruleId === rule.id).map((t) => t.spec),
    destinationIds: destinations.filter((d) => d.ruleId === rule.id).map((d) => d.destinationId),
  }));
}

export function toConfigObject({ rule, transformations, destinationIds }: RuleView) {
  return {
    id: rule.id,
    name: rule.name,
    priority: rule.priority,
    enabled: rule.enabled,
    ...(rule.condition === null || rule.condition === undefined ? {} : { condition: rule.condition }),
    transformations,
    destinationIds,
    stopOnMatch: rule.stopOnMatch,
  };
}

export function ruleDto(view: RuleView) {
  const { rule } = view;
  return {
    ...toConfigObject(view),
    condition: rule.condition ?? null,
    version: rule.version,
    createdAt: rule.createdAt.toISOString(),
    updatedAt: rule.updatedAt.toISOString(),
  };
}

/** Every problem the router's compiler finds in a condition and transformations, each at its JSON pointer. */
export function ruleProblems(condition: unknown, transformations: unknown): { pointer: string; detail: string }[] {
  return validateRule({ condition: condition ?? undefined, transformations }, 'rule').map((text) => {
    const [place, ...rest] = text.split(': ');
    return {
      pointer:
        '/' +
        (place ?? '')
          .replace(/^rule\.?/, '')
          .replace(/\[(\d+)\]/g, '/$1')
          .replaceAll('.', '/'),
      detail: rest.join(': ') || text,
    };
  });
}

export function checkLogic(condition: unknown, transformations: unknown[]): void {
  const problems = ruleProblems(condition, transformations);
  if (problems.length > 0) throw unprocessable('the rule does not compile', problems);
}

export async function checkDestinations(em: EntityManager, ids: string[]): Promise<void> {
  const found = new Set((await em.find(DestinationEntity, { id: { $in: ids } }, { fields: ['id'] })).map((d) => d.id));
  const missing = ids.map((id, index) => ({ id, index })).filter(({ id }) => !found.has(id));
  if (missing.length > 0) {
    throw unprocessable(
      `the rule names destinations that do not exist: ${missing.map((m) => `"${m.id}"`).join(', ')}`,
      missing.map(({ id, index }) => ({
        pointer: `/destinationIds/${index}`,
        detail: `destination "${id}" does not exist`,
      })),
    );
  }
}

// NOTE: children are replaced with native statements, not through the unit of work: the old
// rows may sit in the identity map, and the unit of work would insert the new rows before
// deleting the old ones, colliding on (rule_id, position).
export async function replaceChildren(
  em: EntityManager,
  ruleId: string,
  transformations: unknown[] | undefined,
  destinationIds: string[] | undefined,
): Promise<void> {
  if (transformations) {
    await em.nativeDelete(RuleTransformationEntity, { ruleId });
    if (transformations.length > 0)
      await em.insertMany(
        RuleTransformationEntity,
        transformations.map((spec, position) => ({ ruleId, position, spec })),
      );
  }
  if (destinationIds) {
    await em.nativeDelete(RuleDestinationEntity, { ruleId });
    await em.insertMany(
      RuleDestinationEntity,
      destinationIds.map((destinationId, position) => ({ ruleId, destinationId, position })),
    );
  }
}

export type RuleCreate = RuleBody & { name: string; destinationIds: string[] };

/** Creates a routing rule inside the caller's transaction; the caller publishes it after the commit. */
export async function createRule(em: EntityManager, body: RuleCreate): Promise<RuleView> {
  const id = body.id ?? newId('rul');
  const transformations = body.transformations ?? [];
  checkLogic(body.condition, transformations);
  if (await em.findOne(RoutingRuleEntity, { id })) throw conflict('duplicate', `routing rule "${id}" already exists`);
  if (await em.findOne(RoutingRuleEntity, { name: body.name }))
    throw conflict('duplicate', `a routing rule named "${body.name}" already exists`);
  await checkDestinations(em, body.destinationIds);
  const rule = em.create(RoutingRuleEntity, {
    id,
    name: body.name,
    priority: body.priority ?? 100,
    enabled: body.enabled ?? true,
    condition: body.condition ?? null,
    stopOnMatch: body.stopOnMatch ?? false,
  });
  await em.flush();
  await replaceChildren(em, id, transformations, body.destinationIds);
  await em.flush();
  return { rule, transformations, destinationIds: body.destinationIds };
}

const loadRule = (em: EntityManager, id: string) => loadOr404(em, RoutingRuleEntity, id, 'routing rule');

// A check, not a change: a rule that does not compile is a normal answer here (200 with its
// problems), so an editor can ask on every pause in typing without a stream of refusals.
const checkRuleDraft: Operation = () => (request, response) => {
  const body = request.body as { condition?: unknown; transformations?: unknown };
  const errors = ruleProblems(body.condition, body.transformations ?? []);
  response.json({ valid: errors.length === 0, errors });
};

const listRules: Operation = (context) => async (request, response) => {
  const page = pageQuery(request, context, 'priority');
  const where = enabledAndNameFilters(request);
  const destinationId = queryString(request, 'destinationId');
  const em = context.orm.em.fork();
  if (destinationId) {
    const links = await em.find(RuleDestinationEntity, { destinationId }, { fields: ['ruleId'] });
    where.push({ id: { $in: links.map((link) => link.ruleId) } });
  }
  const dateFields = ['createdAt', 'updatedAt'];
  const rules = await listPage(em, RoutingRuleEntity, { page, where, dateFields, render: (row) => row });
  const views = await loadRuleViews(em, rules.items);
  response.json({ ...rules, items: views.map(ruleDto) });
};

const postRule: Operation = (context) => async (request, response) => {
  const view = await inTransaction(context, (em) => createRule(em, request.body as RuleCreate));
  await context.publisher.notify('rule', view.rule.id);
  setEtag(response, view.rule.version);
  response.status(201).location(`${PATH}/${view.rule.id}`).json(ruleDto(view));
};

const getRule: Operation = (context) => async (request, response) => {
  const em = context.orm.em.fork();
  const view = await loadRuleView(em, await loadRule(em, param(request, 'id')));
  setEtag(response, view.rule.version);
  response.json(ruleDto(view));
};

const patchRule: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  const patch = request.body as RuleBody;
  const view = await inTransaction(context, async (em) => {
    const rule = await loadRule(em, id);
    checkIfMatch(request, rule.version, true);
    const current = await loadRuleView(em, rule);
    const condition = patch.condition !== undefined ? patch.condition : rule.condition;
    const transformations = patch.transformations ?? current.transformations;
    if (patch.condition !== undefined || patch.transformations !== undefined) checkLogic(condition, transformations);
    if (
      patch.name !== undefined &&
      patch.name !== rule.name &&
      (await em.findOne(RoutingRuleEntity, { name: patch.name }))
    ) {
      throw conflict('duplicate', `a routing rule named "${patch.name}" already exists`);
    }
    if (patch.destinationIds) await checkDestinations(em, patch.destinationIds);
    if (patch.name !== undefined) rule.name = patch.name;
    if (patch.priority !== undefined) rule.priority = patch.priority;
    if (patch.enabled !== undefined) rule.enabled = patch.enabled;
    if (patch.stopOnMatch !== undefined) rule.stopOnMatch = patch.stopOnMatch;
    if (patch.condition !== undefined) rule.condition = patch.condition;
    // A change of only the children must still move the version (and so the ETag).
    if (patch.transformations || patch.destinationIds) rule.updatedAt = new Date();
    await replaceChildren(em, id, patch.transformations, patch.destinationIds);
    await em.flush();
    return { rule, transformations, destinationIds: patch.destinationIds ?? current.destinationIds };
  });
  await context.publisher.notify('rule', id);
  setEtag(response, view.rule.version);
  response.json(ruleDto(view));
};

const deleteRule: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  await inTransaction(context, async (em) => {
    const rule = await loadRule(em, id);
    checkIfMatch(request, rule.version, false);
    const links = await em.find(RouteRuleEntity, { ruleId: id }, { limit: 20 });
    refuseInUse(
      'routing rule',
      id,
      links.map((link) => ({ kind: 'route', id: link.routeId })),
    );
    em.remove(rule);
    await em.flush();
  });
  await context.publisher.notify('rule', id);
  response.status(204).end();
};

export function ruleRoutes(context: ControlPlaneContext): Router {
  const router = Router();
  router.post(`${PATH}/validate`, checkRuleDraft(context));
  router.get(PATH, listRules(context));
  router.post(PATH, postRule(context));
  router.get(`${PATH}/:id`, getRule(context));
  router.patch(`${PATH}/:id`, patchRule(context));
  router.delete(`${PATH}/:id`, deleteRule(context));
  return router;
}
