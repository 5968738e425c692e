import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FilterQuery } from '@mikro-orm/core';
import type { EncryptedValue } from '@muxly/common';
import type { ControlPlaneContext } from '../context.ts';
import { SchedulerJobEntity, WebhookTriggerEntity, type WebhookTrigger } from '../db/entities.ts';
import { checkIfMatch, setEtag } from '../http/concurrency.ts';
import { conflict, unprocessable } from '../http/problem.ts';
import {
  inTransaction,
  newId,
  pageQuery,
  param,
  queryBoolean,
  queryString,
  listPage,
  loadOr404,
  type Operation,
} from './common.ts';

// Webhook triggers: a public path that starts a job when a correctly signed request arrives.
// The HMAC secret is encrypted at rest like credentials and never returned, except once when
// the server generated it (the caller has no other way to learn it).

const PATH = '/api/v1/webhook-triggers';

export const webhookSecretContext = (id: string) => `webhook-trigger/${id}`;

export function toConfigObject(trigger: WebhookTrigger) {
  return {
    id: trigger.id,
    jobId: trigger.jobId,
    path: trigger.path,
    enabled: trigger.enabled,
    secret: trigger.secret ?? null,
  };
}

const toDto = (trigger: WebhookTrigger) => ({
  id: trigger.id,
  jobId: trigger.jobId,
  path: trigger.path,
  enabled: trigger.enabled,
  secretSet: trigger.secret !== null && trigger.secret !== undefined,
  version: trigger.version,
  createdAt: trigger.createdAt.toISOString(),
  updatedAt: trigger.updatedAt.toISOString(),
});

const loadTrigger = (em: EntityManager, id: string) => loadOr404(em, WebhookTriggerEntity, id, 'webhook trigger');

/** Refuses (409) a path another trigger already answers on: the public path picks the trigger. */
async function refuseTakenPath(em: EntityManager, path: string): Promise<void> {
  if (await em.findOne(WebhookTriggerEntity, { path }, { fields: ['id'] }))
    throw conflict('duplicate', `another webhook trigger already uses the path "${path}"`);
}

const listTriggers: Operation = (context) => async (request, response) => {
  const page = pageQuery(request, context, 'path');
  const where: FilterQuery<object>[] = [];
  const enabled = queryBoolean(request, 'enabled');
  const jobId = queryString(request, 'jobId');
  if (enabled !== undefined) where.push({ enabled });
  if (jobId) where.push({ jobId });
  const dateFields = ['createdAt', 'updatedAt'];
  response.json(
    await listPage(context.orm.em.fork(), WebhookTriggerEntity, { page, where, dateFields, render: toDto }),
  );
};

const postTrigger: Operation = (context) => async (request, response) => {
  const body = request.body as { id?: string; jobId: string; path: string; secret?: string; enabled?: boolean };
  const id = body.id ?? newId('whk');
  const generatedSecret = body.secret === undefined ? randomBytes(32).toString('base64url') : undefined;
  const trigger = await inTransaction(context, async (em) => {
    if (await em.findOne(WebhookTriggerEntity, { id }))
      throw conflict('duplicate', `webhook trigger "${id}" already exists`);
    await refuseTakenPath(em, body.path);
    if (!(await em.findOne(SchedulerJobEntity, { id: body.jobId }, { fields: ['id'] }))) {
      throw unprocessable(`job "${body.jobId}" does not exist`, [
        { pointer: '/jobId', detail: `job "${body.jobId}" does not exist` },
      ]);
    }
    const created = em.create(WebhookTriggerEntity, {
      id,
      jobId: body.jobId,
      path: body.path,
      enabled: body.enabled ?? true,
      secret: context.keyring.encrypt(body.secret ?? generatedSecret, webhookSecretContext(id)),
    });
    await em.flush();
    return created;
  });
  await context.publisher.notify('webhook-trigger', id);
  setEtag(response, trigger.version);
  response
    .status(201)
    .location(`${PATH}/${id}`)
    .json({ ...toDto(trigger), ...(generatedSecret ? { generatedSecret } : {}) });
};

const getTrigger: Operation = (context) => async (request, response) => {
  const trigger = await loadTrigger(context.orm.em.fork(), param(request, 'id'));
  setEtag(response, trigger.version);
  response.json(toDto(trigger));
};

const patchTrigger: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  const patch = request.body as { path?: string; secret?: string; enabled?: boolean };
  const trigger = await inTransaction(context, async (em) => {
    const current = await loadTrigger(em, id);
    checkIfMatch(request, current.version, true);
    if (patch.path !== undefined && patch.path !== current.path) await refuseTakenPath(em, patch.path);
    if (patch.path !== undefined) current.path = patch.path;
    if (patch.enabled !== undefined) current.enabled = patch.enabled;
    if (patch.secret !== undefined)
      current.secret = context.keyring.encrypt(patch.secret, webhookSecretContext(id)) as EncryptedValue & null;
    await em.flush();
    return current;
  });
  await context.publisher.notify('webhook-trigger', id);
  setEtag(response, trigger.version);
  response.json(toDto(trigger));
};

const deleteTrigger: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  await inTransaction(context, async (em) => {
    const trigger = await loadTrigger(em, id);
    checkIfMatch(request, trigger.version, false);
    em.remove(trigger);
    await em.flush();
  });
  await context.publisher.notify('webhook-trigger', id);
  response.status(204).end();
};

export function webhookTriggerRoutes(context: ControlPlaneContext): Router {
  const router = Router();
  router.get(PATH, listTriggers(context));
  router.post(PATH, postTrigger(context));
  router.get(`${PATH}/:id`, getTrigger(context));
  router.patch(`${PATH}/:id`, patchTrigger(context));
  router.delete(`${PATH}/:id`, deleteTrigger(context));
  return router;
}
