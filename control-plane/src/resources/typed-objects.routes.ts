import { Router, type Request } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FilterQuery } from '@mikro-orm/core';
import type { EncryptedValue } from '@muxly/common';
import type { ControlPlaneContext } from '../context.ts';
import {
  forgetDeletedDestination,
  placeNewDestination,
  placeReenabledDestination,
} from '../positions/destination-hooks.ts';
import type { StartFrom } from '../positions/start-from.ts';
import {
  ConnectorEntity,
  DestinationEntity,
  RouteEntity,
  RuleDestinationEntity,
  SchedulerJobEntity,
  type Connector,
  type Destination,
  type LooseEntityName,
} from '../db/entities.ts';
import { checkIfMatch, setEtag } from '../http/concurrency.ts';
import { afterCursor, orderBy, pageOf } from '../http/pagination.ts';
import { conflict, notFound } from '../http/problem.ts';
import type { TemplateKind } from '../templates/catalog.ts';
import { runConnectionTest } from '../diagnosis/connection-test.ts';
import { inTransaction, likeContains, newId, pageQuery, param, queryBoolean, queryString } from './common.ts';

// Connectors and destinations have the same shape: a type from a template, a config validated
// against the template's schema, and write-only credentials encrypted at rest.

type TypedObject = Connector | Destination;
type Json = Record<string, unknown>;

interface Spec {
  kind: TemplateKind;
  path: string;
  idPrefix: string;
  label: string;
  entity: LooseEntityName;
  /** Objects that reference this one and so forbid deleting it. */
  usedBy(em: EntityManager, id: string): Promise<{ kind: string; id: string }[]>;
}

const SPECS: Record<TemplateKind, Spec> = {
  connector: {
    kind: 'connector',
    path: '/api/v1/connectors',
    idPrefix: 'con',
    label: 'connector',
    entity: ConnectorEntity as unknown as LooseEntityName,
    async usedBy(em, id) {
      const routes = await em.find(RouteEntity, { connectorId: id }, { fields: ['id'], limit: 20 });
      const jobs = await em.find(SchedulerJobEntity, { connectorId: id }, { fields: ['id'], limit: 20 });
      return [
        ...routes.map((route) => ({ kind: 'route', id: route.id })),
        ...jobs.map((job) => ({ kind: 'job', id: job.id })),
      ];
    },
  },
  destination: {
    kind: 'destination',
    path: '/api/v1/destinations',
    idPrefix: 'dst',
    label: 'destination',
    entity: DestinationEntity as unknown as LooseEntityName,
    async usedBy(em, id) {
      const links = await em.find(RuleDestinationEntity, { destinationId: id }, { limit: 20 });
      return links.map((link) => ({ kind: 'rule', id: link.ruleId }));
    },
  },
};

export function toDto(object: TypedObject) {
  return {
    id: object.id,
    name: object.name,
    type: object.type,
    enabled: object.enabled,
    config: object.config,
    credentialsSet: object.credentials !== null && object.credentials !== undefined,
    version: object.version,
    createdAt: object.createdAt.toISOString(),
    updatedAt: object.updatedAt.toISOString(),
  };
}

/** The object as published on the config topic: credentials stay encrypted. */
export function toConfigObject(object: TypedObject) {
  return {
    id: object.id,
    name: object.name,
    type: object.type,
    enabled: object.enabled,
    config: object.config,
    credentials: object.credentials ?? null,
  };
}

export const secretContext = (kind: TemplateKind, id: string) => `${kind}/${id}`;

/** The body of a create (`ConnectorCreate` / `DestinationCreate` in the OpenAPI document). */
export interface TypedObjectCreate {
  id?: string;
  name: string;
  type: string;
  enabled?: boolean;
  config?: Json;
  credentials?: Json;
  /** Destinations: where the new destination's consumer group starts (default now). */
  startFrom?: StartFrom;
}

/**
 * Creates a connector or destination inside the caller's transaction: the config validated
 * against the type's template, duplicates refused, credentials encrypted. The caller publishes
 * it once the transaction committed.
 */
export async function createTypedObject(
  context: ControlPlaneContext,
  em: EntityManager,
  kind: TemplateKind,
  body: TypedObjectCreate,
): Promise<TypedObject> {
  const spec = SPECS[kind];
  const id = body.id ?? newId(spec.idPrefix);
  const credentials = body.credentials && Object.keys(body.credentials).length > 0 ? body.credentials : null;
  const config = context.templates.validate(kind, body.type, body.config ?? {}, credentials);
  if (await em.findOne(spec.entity, { id })) throw conflict('duplicate', `${spec.label} "${id}" already exists`);
  if (await em.findOne(spec.entity, { name: body.name }))
    throw conflict('duplicate', `a ${spec.label} named "${body.name}" already exists`);
  const object = em.create(spec.entity, {
    id,
    name: body.name,
    type: body.type,
    enabled: body.enabled ?? true,
    config,
    credentials: credentials ? context.keyring.encrypt(credentials, secretContext(kind, id)) : null,
    ...(kind === 'connector' ? { state: null } : {}),
  } as never) as TypedObject;
  // NOTE: before the commit and the publish, so the router never starts it from elsewhere.
  if (kind === 'destination') await placeNewDestination(context, id, body.startFrom);
  await em.flush();
  return object;
}

export function typedObjectRoutes(kind: TemplateKind, context: ControlPlaneContext): Router {
  const spec = SPECS[kind];
  const router = Router();
  const { keyring, templates } = context;

  const load = async (em: EntityManager, id: string): Promise<TypedObject> => {
    const object = (await em.findOne(spec.entity, { id })) as TypedObject | null;
    if (!object) throw notFound(spec.label, id);
    return object;
  };
  const decryptCredentials = (object: TypedObject): Json | null =>
    object.credentials ? (keyring.decrypt(object.credentials, secretContext(kind, object.id)) as Json) : null;

  router.get(spec.path, async (request, response) => {
    const page = pageQuery(request, context, 'name');
    const where: FilterQuery<object>[] = [];
    const type = queryString(request, 'type');
    const enabled = queryBoolean(request, 'enabled');
    const name = queryString(request, 'nameContains');
    if (type) where.push({ type });
    if (enabled !== undefined) where.push({ enabled });
    if (name) where.push({ name: { $ilike: likeContains(name) } });
    const cursor = afterCursor(page, 'id', ['createdAt', 'updatedAt']);
    if (cursor) where.push(cursor);
    const em = context.orm.em.fork();
    const rows = (await em.find(spec.entity, { $and: where } as never, {
      orderBy: orderBy(page, 'id') as never,
      limit: page.limit + 1,
    })) as TypedObject[];
    response.json(pageOf(rows as unknown as (TypedObject & Json)[], page, 'id', (row) => toDto(row)));
  });

  router.post(spec.path, async (request, response) => {
    const created = await inTransaction(context, (em) =>
      createTypedObject(context, em, kind, request.body as TypedObjectCreate),
    );
    await context.publisher.notify(kind, created.id);
    setEtag(response, created.version);
    response.status(201).location(`${spec.path}/${created.id}`).json(toDto(created));
  });

  router.get(`${spec.path}/:id`, async (request, response) => {
    const object = await load(context.orm.em.fork(), param(request, 'id'));
    setEtag(response, object.version);
    response.json(toDto(object));
  });

  router.patch(`${spec.path}/:id`, async (request, response) => {
    const id = param(request, 'id');
    const patch = request.body as {
      name?: string;
      enabled?: boolean;
      config?: Json;
      credentials?: Json | null;
      startFrom?: StartFrom;
    };
    const updated = await inTransaction(context, async (em) => {
      const object = await load(em, id);
      checkIfMatch(request, object.version, true);
      if (
        patch.name !== undefined &&
        patch.name !== object.name &&
        (await em.findOne(spec.entity, { name: patch.name }))
      ) {
        throw conflict('duplicate', `a ${spec.label} named "${patch.name}" already exists`);
      }
      const credentials =
        patch.credentials === undefined
          ? decryptCredentials(object)
          : patch.credentials && Object.keys(patch.credentials).length > 0
            ? patch.credentials
            : null;
      if (patch.config !== undefined || patch.credentials !== undefined) {
        object.config = templates.validate(kind, object.type, patch.config ?? object.config, credentials);
      }
      if (patch.credentials !== undefined) {
        object.credentials = (
          credentials ? keyring.encrypt(credentials, secretContext(kind, id)) : null
        ) as EncryptedValue & null;
      }
      if (patch.startFrom !== undefined) await placeReenabledDestination(context, object, patch);
      if (patch.name !== undefined) object.name = patch.name;
      if (patch.enabled !== undefined) object.enabled = patch.enabled;
      await em.flush();
      return object;
    });
    await context.publisher.notify(kind, id);
    setEtag(response, updated.version);
    response.json(toDto(updated));
  });

  router.delete(`${spec.path}/:id`, async (request, response) => {
    const id = param(request, 'id');
    await inTransaction(context, async (em) => {
      const object = await load(em, id);
      checkIfMatch(request, object.version, false);
      const users = await spec.usedBy(em, id);
      if (users.length > 0) {
        const names = users.map((user) => `${user.kind} "${user.id}"`).join(', ');
        throw conflict('in-use', `${spec.label} "${id}" is used by ${names}; change or delete those first`, {
          usedBy: users,
        });
      }
      em.remove(object);
      await em.flush();
    });
    await context.publisher.notify(kind, id);
    if (kind === 'destination') forgetDeletedDestination(context, id);
    response.status(204).end();
  });

  router.post(`${spec.path}/:id/test`, async (request, response) => {
    const object = await load(context.orm.em.fork(), param(request, 'id'));
    response.json(
      await runConnectionTest({
        kind,
        type: object.type,
        catalog: templates,
        config: object.config,
        credentials: decryptCredentials(object),
        connectorAllowAddresses: context.connectorAllowAddresses,
      }),
    );
  });

  if (kind === 'connector') {
    router.get(`${spec.path}/:id/state`, async (request, response) => {
      const object = (await load(context.orm.em.fork(), param(request, 'id'))) as Connector;
      response.json({ connectorId: object.id, state: object.state ?? null });
    });
  }
  return router;
}

export type { Request };
