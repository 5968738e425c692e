import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityName, FilterQuery, QueryOrderMap } from '@mikro-orm/core';
import type { ControlPlaneContext } from '../context.ts';
import { ApiProblem, conflict, notFound } from '../http/problem.ts';
import { afterCursor, orderBy, pageOf, type PageQuery } from '../http/pagination.ts';

/** A new opaque id: a readable prefix and 16 random hex characters (e.g. "dst_9f2c…"). */
export const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;

/**
 * One HTTP operation of a resource: given the control plane, the handler that answers it. A
 * resource's route factory is then a short table of `router.<verb>(path, operation(context))`.
 */
export type Operation = (context: ControlPlaneContext) => RequestHandler;

/** Runs `work` in one database transaction on a fresh entity manager (one per request). */
export function inTransaction<T>(context: ControlPlaneContext, work: (em: EntityManager) => Promise<T>): Promise<T> {
  return context.orm.em.fork().transactional(work);
}

export function pageQuery(request: Request, context: ControlPlaneContext, defaultSort: string): PageQuery {
  const query = request.query as Record<string, unknown>;
  const limit = Number(query.limit ?? 50);
  if (limit > context.maxPageSize) {
    throw new ApiProblem(400, 'invalid-request', `limit may be at most ${context.maxPageSize}`, {
      errors: [{ pointer: '/query/limit', detail: `must be <= ${context.maxPageSize}` }],
    });
  }
  return {
    limit,
    cursor: typeof query.cursor === 'string' ? query.cursor : undefined,
    sort: typeof query.sort === 'string' ? query.sort : defaultSort,
  };
}

/**
 * One page of `entity`: the rows matching every filter in `where`, after the page's cursor, in
 * the page's sort (then by id), rendered by `render`. `dateFields` names the sortable timestamps,
 * whose cursor values are read back as dates.
 */
export async function listPage<T extends object, R>(
  em: EntityManager,
  entity: EntityName<T>,
  options: { page: PageQuery; where: FilterQuery<object>[]; dateFields: readonly string[]; render: (row: T) => R },
): Promise<{ items: R[]; nextCursor: string | null }> {
  const { page, where, dateFields, render } = options;
  const cursor = afterCursor(page, 'id', dateFields);
  // NOTE: the sort field and cursor come from the query (validated against the OpenAPI enum of
  // each operation), so they are not typed against the entity: these are the only casts.
  const conditions = cursor ? [...where, cursor] : where;
  const rows = await em.find(entity, { $and: conditions } as FilterQuery<NoInfer<T>>, {
    orderBy: orderBy(page, 'id') as QueryOrderMap<T>,
    limit: page.limit + 1,
  });
  return pageOf(rows, page, 'id', render);
}

/** The object with this id, or the 404 problem naming it (`label` is the kind a user reads). */
export async function loadOr404<T extends { id: string }>(
  em: EntityManager,
  entity: EntityName<T>,
  id: string,
  label: string,
): Promise<T> {
  const found = await em.findOne(entity, { id } as FilterQuery<T>);
  if (!found) throw notFound(label, id);
  return found as T;
}

/** An object that refers to another and so forbids deleting it. */
export interface UsedBy {
  kind: string;
  id: string;
}

/**
 * Refuses (409 in-use, listing them in `usedBy`) deleting the `label` with this id while other
 * objects refer to it; `advice` tells the reader what to do about them.
 */
export function refuseInUse(
  label: string,
  id: string,
  usedBy: UsedBy[],
  advice = 'change or delete those first',
): void {
  if (usedBy.length === 0) return;
  const names = usedBy.map((user) => `${user.kind.replaceAll('-', ' ')} "${user.id}"`).join(', ');
  throw conflict('in-use', `${label} "${id}" is used by ${names}; ${advice}`, { usedBy });
}

export const queryString = (request: Request, name: string): string | undefined => {
  const value = (request.query as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
};

export const queryBoolean = (request: Request, name: string): boolean | undefined => {
  const value = (request.query as Record<string, unknown>)[name];
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
};

/** Escapes LIKE wildcards so a user's text is matched literally. */
export const likeContains = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The list filters that connectors, destinations, rules, routes and jobs share: `enabled` and `nameContains`. */
export function enabledAndNameFilters(request: Request): FilterQuery<object>[] {
  const where: FilterQuery<object>[] = [];
  const enabled = queryBoolean(request, 'enabled');
  const name = queryString(request, 'nameContains');
  if (enabled !== undefined) where.push({ enabled });
  if (name) where.push({ name: { $ilike: likeContains(name) } });
  return where;
}

export const iso = (value: Date | null | undefined) => (value ? value.toISOString() : null);

export const param = (request: Request, name: string): string => String(request.params[name]);
