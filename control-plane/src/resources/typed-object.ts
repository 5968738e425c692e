import { Router, type RequestHandler } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityName, FilterQuery, RequiredEntityData } from '@mikro-orm/core';
import type { ControlPlaneContext } from '../context.ts';
import type { Connector, Destination } from '../db/entities.ts';
import { checkIfMatch, setEtag } from '../http/concurrency.ts';
import { conflict, unprocessable } from '../http/problem.ts';
import type { StartFrom } from '../positions/start-from.ts';
import type { TemplateKind } from '../templates/catalog.ts';
import { forbiddenDatabaseProblem, runConnectionTest } from '../diagnosis/connection-test.ts';
import {
  inTransaction,
  listPage,
  loadOr404,
  newId,
  pageQuery,
  param,
  queryString,
  refuseInUse,
  enabledAndNameFilters,
} from './common.ts';

// Connectors and destinations have the same shape: a type from a template, a config validated
// against the template's schema, and write-only credentials encrypted at rest. This file holds
// that shape, one handler per operation and the table that mounts them (typedObjectRoutes);
// connectors.routes.ts and destinations.routes.ts give what differs (entity, path, what forbids
// a delete) and add their own operations.

type TypedObject = Connector | Destination;
type Json = Record<string, unknown>;

export interface TypedObjectSpec<T extends TypedObject> {
  kind: TemplateKind;
  path: string;
  idPrefix: string;
  label: string;
  entity: EntityName<T>;
  /** Fields a new object of this kind starts with besides the common ones. */
  initial: Partial<T>;
  /** Objects that reference this one and so forbid deleting it. */
  usedBy(em: EntityManager, id: string): Promise<{ kind: string; id: string }[]>;
  /** Runs in the creating transaction before its commit (and so before the config is published). */
  onCreate?(id: string, body: TypedObjectBody): Promise<void>;
  /** Runs in the updating transaction, before the patch's name and enabled are applied. */
  onUpdate?(object: T, patch: TypedObjectBody): Promise<void>;
  /** Runs after the delete is committed and published. */
  onDelete?(id: string): void;
}

/** What a create or a patch may carry (the OpenAPI document validates the shape first). */
export interface TypedObjectBody {
  id?: string;
  name?: string;
  type?: string;
  enabled?: boolean;
  config?: Json;
  credentials?: Json | null;
  /** Destinations only: where a new or re-enabled destination starts reading. */
  startFrom?: StartFrom;
}

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

/** Empty credentials mean "none". */
const nonEmpty = (credentials: Json | null | undefined): Json | null =>
  credentials && Object.keys(credentials).length > 0 ? credentials : null;

/** The body of a create (`ConnectorCreate` / `DestinationCreate` in the OpenAPI document). */
export type TypedObjectCreate = TypedObjectBody & { name: string; type: string };

/**
 * Creates a connector or destination inside the caller's transaction: the config validated
 * against the type's template, duplicates refused, credentials encrypted. The caller publishes
 * it once the transaction committed.
 */
export async function createTypedObjectWith<T extends TypedObject>(
  spec: TypedObjectSpec<T>,
  context: ControlPlaneContext,
  em: EntityManager,
  body: TypedObjectCreate,
): Promise<T> {
  const { kind, entity, label } = spec;
  const id = body.id ?? newId(spec.idPrefix);
  const credentials = nonEmpty(body.credentials);
  const config = context.templates.validate(kind, body.type, body.config ?? {}, credentials);
  await refuseForbiddenDatabase(context, kind, config, credentials);
  if (await em.findOne(entity, { id } as FilterQuery<T>))
    throw conflict('duplicate', `${label} "${id}" already exists`);
  if (await em.findOne(entity, { name: body.name } as FilterQuery<T>))
    throw conflict('duplicate', `a ${label} named "${body.name}" already exists`);
  const data = {
    ...spec.initial,
    id,
    name: body.name,
    type: body.type,
    enabled: body.enabled ?? true,
    config,
    credentials: credentials ? context.keyring.encrypt(credentials, secretContext(kind, id)) : null,
  } as RequiredEntityData<T>;
  const object = em.create(entity, data);
  await spec.onCreate?.(id, body);
  await em.flush();
  return object;
}

/** Every place a config names a host: URL fields (their origin) and host/port pairs, by JSON pointer. */
function endpointsOf(config: Json, base = ''): Map<string, string> {
  const found = new Map<string, string>();
  for (const [key, value] of Object.entries(config)) {
    const pointer = `${base}/${key}`;
    if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      try {
        const url = new URL(value);
        if (url.hostname) found.set(pointer, `${url.protocol}//${url.host}`);
      } catch {
        // not a URL: not an endpoint
      }
    } else if (key === 'host' && typeof value === 'string') {
      found.set(pointer, `${value}:${String(config.port ?? '')}`);
    } else if (value && typeof value === 'object' && !Array.isArray(value) && base === '') {
      for (const [nested, endpoint] of endpointsOf(value as Json, pointer)) found.set(nested, endpoint);
    }
  }
  return found;
}

/** Refuses (422, naming the fields) a config change that moves an endpoint while keeping the stored credentials. */
function refuseMovedEndpoints(before: Json, after: Json): void {
  const old = endpointsOf(before);
  const next = endpointsOf(after);
  const moved = [...new Set([...old.keys(), ...next.keys()])].filter(
    (pointer) => old.get(pointer) !== next.get(pointer),
  );
  if (moved.length > 0)
    throw unprocessable(
      'this change sends the stored credentials to a new endpoint: send the credentials again with it',
      moved.map((pointer) => ({
        pointer: `/config${pointer}`,
        detail: 'changes where the stored credentials are sent; include `credentials` in the same request',
      })),
    );
}

/** Refuses (422, naming the field) a destination that would write to a database Muxly protects. */
async function refuseForbiddenDatabase(
  context: ControlPlaneContext,
  kind: TemplateKind,
  config: Json,
  credentials: Json | null,
): Promise<void> {
  const problem = await forbiddenDatabaseProblem(context.forbiddenDatabases, kind, { ...config, ...credentials });
  if (problem) throw unprocessable(`the ${kind} may not write to this database`, [problem]);
}

/** The object of this kind with this id, or the 404 problem naming its kind. */
export const loadTypedObject = <T extends TypedObject>(spec: TypedObjectSpec<T>, em: EntityManager, id: string) =>
  loadOr404(em, spec.entity, id, spec.label);

function decryptCredentials(kind: TemplateKind, context: ControlPlaneContext, object: TypedObject) {
  return object.credentials
    ? (context.keyring.decrypt(object.credentials, secretContext(kind, object.id)) as Json)
    : null;
}

function encryptCredentials(kind: TemplateKind, context: ControlPlaneContext, credentials: Json | null, id: string) {
  return credentials ? context.keyring.encrypt(credentials, secretContext(kind, id)) : null;
}

async function refuseDuplicateName<T extends TypedObject>(spec: TypedObjectSpec<T>, em: EntityManager, name: string) {
  if (await em.findOne(spec.entity, { name } as FilterQuery<T>))
    throw conflict('duplicate', `a ${spec.label} named "${name}" already exists`);
}

function listTypedObjects<T extends TypedObject>(
  spec: TypedObjectSpec<T>,
  context: ControlPlaneContext,
): RequestHandler {
  return async (request, response) => {
    const where = enabledAndNameFilters(request);
    const type = queryString(request, 'type');
    if (type) where.push({ type });
    const page = pageQuery(request, context, 'name');
    const dateFields = ['createdAt', 'updatedAt'];
    response.json(await listPage(context.orm.em.fork(), spec.entity, { page, where, dateFields, render: toDto }));
  };
}

function postTypedObject<T extends TypedObject>(
  spec: TypedObjectSpec<T>,
  context: ControlPlaneContext,
): RequestHandler {
  return async (request, response) => {
    const body = request.body as TypedObjectCreate;
    const created = await inTransaction(context, (em) => createTypedObjectWith(spec, context, em, body));
    await context.publisher.notify(spec.kind, created.id);
    setEtag(response, created.version);
    response.status(201).location(`${spec.path}/${created.id}`).json(toDto(created));
  };
}

function getTypedObject<T extends TypedObject>(spec: TypedObjectSpec<T>, context: ControlPlaneContext): RequestHandler {
  return async (request, response) => {
    const object = await loadTypedObject(spec, context.orm.em.fork(), param(request, 'id'));
    setEtag(response, object.version);
    response.json(toDto(object));
  };
}

function patchTypedObject<T extends TypedObject>(
  spec: TypedObjectSpec<T>,
  context: ControlPlaneContext,
): RequestHandler {
  const { kind } = spec;
  return async (request, response) => {
    const id = param(request, 'id');
    const patch = request.body as TypedObjectBody;
    const updated = await inTransaction(context, async (em) => {
      const object = await loadTypedObject(spec, em, id);
      checkIfMatch(request, object.version, true);
      if (patch.name !== undefined && patch.name !== object.name) await refuseDuplicateName(spec, em, patch.name);
      const credentials =
        patch.credentials === undefined ? decryptCredentials(spec.kind, context, object) : nonEmpty(patch.credentials);
      if (patch.config !== undefined || patch.credentials !== undefined) {
        const before = object.config;
        object.config = context.templates.validate(kind, object.type, patch.config ?? object.config, credentials);
        // NOTE: stored credentials follow the endpoint they were given for. Moving the endpoint
        // without sending them again would let anyone who may edit the object (but never read
        // its secrets) have them sent to a host of their choosing.
        if (patch.credentials === undefined && credentials) refuseMovedEndpoints(before, object.config);
        await refuseForbiddenDatabase(context, kind, object.config, credentials);
      }
      if (patch.credentials !== undefined) object.credentials = encryptCredentials(spec.kind, context, credentials, id);
      await spec.onUpdate?.(object, patch);
      if (patch.name !== undefined) object.name = patch.name;
      if (patch.enabled !== undefined) object.enabled = patch.enabled;
      await em.flush();
      return object;
    });
    await context.publisher.notify(kind, id);
    setEtag(response, updated.version);
    response.json(toDto(updated));
  };
}

function deleteTypedObject<T extends TypedObject>(
  spec: TypedObjectSpec<T>,
  context: ControlPlaneContext,
): RequestHandler {
  return async (request, response) => {
    const id = param(request, 'id');
    await inTransaction(context, async (em) => {
      const object = await loadTypedObject(spec, em, id);
      checkIfMatch(request, object.version, false);
      refuseInUse(spec.label, id, await spec.usedBy(em, id));
      em.remove(object);
      await em.flush();
    });
    await context.publisher.notify(spec.kind, id);
    spec.onDelete?.(id);
    response.status(204).end();
  };
}

/**
 * Stores credentials a provider rotated during a connection test (a new refresh token), as an
 * edit would: the old refresh token may already have stopped working.
 */
async function saveRotatedCredentials<T extends TypedObject>(
  spec: TypedObjectSpec<T>,
  context: ControlPlaneContext,
  id: string,
  credentials: Record<string, unknown>,
): Promise<void> {
  await inTransaction(context, async (em) => {
    const object = await loadTypedObject(spec, em, id);
    object.credentials = encryptCredentials(spec.kind, context, credentials as Json, id);
    await em.flush();
  });
  await context.publisher.notify(spec.kind, id);
}

function testTypedObject<T extends TypedObject>(
  spec: TypedObjectSpec<T>,
  context: ControlPlaneContext,
): RequestHandler {
  return async (request, response) => {
    const object = await loadTypedObject(spec, context.orm.em.fork(), param(request, 'id'));
    response.json(
      await runConnectionTest({
        kind: spec.kind,
        type: object.type,
        catalog: context.templates,
        config: object.config,
        credentials: decryptCredentials(spec.kind, context, object),
        outbound: context.outbound,
        forbiddenDatabases: context.forbiddenDatabases,
        objectId: object.id,
        saveCredentials: (credentials) => saveRotatedCredentials(spec, context, object.id, credentials),
      }),
    );
  };
}

/** The operations connectors and destinations share, mounted at the spec's path. */
export function typedObjectRoutes<T extends TypedObject>(
  spec: TypedObjectSpec<T>,
  context: ControlPlaneContext,
): Router {
  const router = Router();
  router.get(spec.path, listTypedObjects(spec, context));
  router.post(spec.path, postTypedObject(spec, context));
  router.get(`${spec.path}/:id`, getTypedObject(spec, context));
  router.patch(`${spec.path}/:id`, patchTypedObject(spec, context));
  router.delete(`${spec.path}/:id`, deleteTypedObject(spec, context));
  router.post(`${spec.path}/:id/test`, testTypedObject(spec, context));
  return router;
}
