import { Router, type Request } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FilterQuery } from '@mikro-orm/core';
import cronParser from 'cron-parser';
import type { ControlPlaneContext } from '../context.ts';
import { jobNextRuns } from '../scheduler/cron.ts';
import {
  ConnectorEntity,
  JobExecutionEntity,
  SchedulerJobEntity,
  WebhookTriggerEntity,
  type JobExecution,
  type SchedulerJob,
} from '../db/entities.ts';
import { checkIfMatch, setEtag } from '../http/concurrency.ts';
import { conflict, unprocessable, type FieldProblem } from '../http/problem.ts';
import {
  iso,
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

// Scheduled jobs (a connector action on a cron schedule) and the history of their executions.

const PATH = '/api/v1/jobs';
const DEFAULT_BACKOFF = { initialSeconds: 30, maxSeconds: 3600, multiplier: 2 };

interface JobBody {
  id?: string;
  name?: string;
  connectorId?: string;
  action?: string;
  params?: Record<string, unknown>;
  schedule?: string | null;
  timezone?: string;
  enabled?: boolean;
  maxRetries?: number;
  backoff?: Record<string, unknown>;
  timeoutSeconds?: number;
}

export function toConfigObject(job: SchedulerJob) {
  return {
    id: job.id,
    name: job.name,
    connectorId: job.connectorId,
    action: job.action,
    params: job.params,
    schedule: job.schedule ?? null,
    timezone: job.timezone,
    enabled: job.enabled,
    maxRetries: job.maxRetries,
    backoff: { ...DEFAULT_BACKOFF, ...job.backoff },
    timeoutSeconds: job.timeoutSeconds,
  };
}

export const toDto = (job: SchedulerJob) => ({
  ...toConfigObject(job),
  ...jobNextRuns(job),
  version: job.version,
  createdAt: job.createdAt.toISOString(),
  updatedAt: job.updatedAt.toISOString(),
});

export const executionDto = (execution: JobExecution) => ({
  id: execution.id,
  jobId: execution.jobId,
  status: execution.status,
  attempt: execution.attempt,
  triggeredBy: execution.triggeredBy,
  startedAt: iso(execution.startedAt),
  endedAt: iso(execution.endedAt),
  counts: execution.counts,
  error: execution.error ?? null,
  progress: execution.progress ?? null,
  createdAt: execution.createdAt.toISOString(),
});

function checkSchedule(schedule: string | null | undefined, timezone: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    problems.push({ pointer: '/timezone', detail: `"${timezone}" is not an IANA time zone (e.g. UTC, Europe/Paris)` });
    return problems;
  }
  if (schedule) {
    const fields = schedule.trim().split(/\s+/).length;
    if (fields < 5 || fields > 6)
      problems.push({
        pointer: '/schedule',
        detail: 'a cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first)',
      });
    else {
      try {
        cronParser.parseExpression(schedule, { tz: timezone });
      } catch (error) {
        problems.push({ pointer: '/schedule', detail: `not a valid cron expression: ${(error as Error).message}` });
      }
    }
  }
  return problems;
}

async function checkConnector(em: EntityManager, connectorId: string): Promise<void> {
  if (!(await em.findOne(ConnectorEntity, { id: connectorId }, { fields: ['id'] }))) {
    throw unprocessable(`connector "${connectorId}" does not exist`, [
      { pointer: '/connectorId', detail: `connector "${connectorId}" does not exist` },
    ]);
  }
}

function executionFilters(request: Request): FilterQuery<object>[] {
  const where: FilterQuery<object>[] = [];
  const status = queryString(request, 'status');
  const triggeredBy = queryString(request, 'triggeredBy');
  const after = queryString(request, 'createdAfter');
  const before = queryString(request, 'createdBefore');
  if (status) where.push({ status });
  if (triggeredBy) where.push({ triggeredBy });
  if (after) where.push({ createdAt: { $gte: new Date(after) } });
  if (before) where.push({ createdAt: { $lt: new Date(before) } });
  return where;
}

export type JobCreate = JobBody & { name: string; connectorId: string };

/** Creates a job inside the caller's transaction; the caller publishes it after the commit. */
export async function createJob(em: EntityManager, body: JobCreate): Promise<SchedulerJob> {
  const id = body.id ?? newId('job');
  const timezone = body.timezone ?? 'UTC';
  const problems = checkSchedule(body.schedule, timezone);
  if (problems.length > 0) throw unprocessable('the schedule is not valid', problems);
  if (await em.findOne(SchedulerJobEntity, { id })) throw conflict('duplicate', `job "${id}" already exists`);
  if (await em.findOne(SchedulerJobEntity, { name: body.name }))
    throw conflict('duplicate', `a job named "${body.name}" already exists`);
  await checkConnector(em, body.connectorId);
  const created = em.create(SchedulerJobEntity, {
    id,
    name: body.name,
    connectorId: body.connectorId,
    action: body.action ?? 'sync',
    params: body.params ?? {},
    schedule: body.schedule ?? null,
    timezone,
    enabled: body.enabled ?? true,
    maxRetries: body.maxRetries ?? 3,
    backoff: { ...DEFAULT_BACKOFF, ...body.backoff },
    timeoutSeconds: body.timeoutSeconds ?? 3600,
  });
  await em.flush();
  return created;
}

const loadJob = (em: EntityManager, id: string) => loadOr404(em, SchedulerJobEntity, id, 'job');

/** A page of executions matching `where`, newest first unless the query sorts otherwise. */
function listExecutionPage(context: ControlPlaneContext, request: Request, where: FilterQuery<object>[]) {
  const page = pageQuery(request, context, '-createdAt');
  const dateFields = ['createdAt'];
  return listPage(context.orm.em.fork(), JobExecutionEntity, { page, where, dateFields, render: executionDto });
}

const listJobs: Operation = (context) => async (request, response) => {
  const page = pageQuery(request, context, 'name');
  const where = enabledAndNameFilters(request);
  const connectorId = queryString(request, 'connectorId');
  if (connectorId) where.push({ connectorId });
  const dateFields = ['createdAt', 'updatedAt'];
  response.json(await listPage(context.orm.em.fork(), SchedulerJobEntity, { page, where, dateFields, render: toDto }));
};

const postJob: Operation = (context) => async (request, response) => {
  const job = await inTransaction(context, (em) => createJob(em, request.body as JobCreate));
  await context.publisher.notify('job', job.id);
  setEtag(response, job.version);
  response.status(201).location(`${PATH}/${job.id}`).json(toDto(job));
};

const getJob: Operation = (context) => async (request, response) => {
  const job = await loadJob(context.orm.em.fork(), param(request, 'id'));
  setEtag(response, job.version);
  response.json(toDto(job));
};

const patchJob: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  const patch = request.body as JobBody;
  const job = await inTransaction(context, async (em) => {
    const current = await loadJob(em, id);
    checkIfMatch(request, current.version, true);
    const problems = checkSchedule(
      patch.schedule !== undefined ? patch.schedule : current.schedule,
      patch.timezone ?? current.timezone,
    );
    if (problems.length > 0) throw unprocessable('the schedule is not valid', problems);
    if (
      patch.name !== undefined &&
      patch.name !== current.name &&
      (await em.findOne(SchedulerJobEntity, { name: patch.name }))
    ) {
      throw conflict('duplicate', `a job named "${patch.name}" already exists`);
    }
    const { id: _ignored, connectorId: _fixed, backoff, ...fields } = patch;
    Object.assign(current, fields);
    if (backoff) current.backoff = { ...DEFAULT_BACKOFF, ...backoff };
    await em.flush();
    return current;
  });
  await context.publisher.notify('job', id);
  setEtag(response, job.version);
  response.json(toDto(job));
};

const deleteJob: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  await inTransaction(context, async (em) => {
    const job = await loadJob(em, id);
    checkIfMatch(request, job.version, false);
    const triggers = await em.find(WebhookTriggerEntity, { jobId: id }, { fields: ['id'], limit: 20 });
    refuseInUse(
      'job',
      id,
      triggers.map((trigger) => ({ kind: 'webhook-trigger', id: trigger.id })),
      'delete those first',
    );
    em.remove(job);
    await em.flush();
  });
  await context.publisher.notify('job', id);
  response.status(204).end();
};

const listJobExecutions: Operation = (context) => async (request, response) => {
  const id = param(request, 'id');
  await loadJob(context.orm.em.fork(), id);
  response.json(await listExecutionPage(context, request, [{ jobId: id }, ...executionFilters(request)]));
};

const listExecutions: Operation = (context) => async (request, response) => {
  const jobId = queryString(request, 'jobId');
  response.json(
    await listExecutionPage(context, request, [...(jobId ? [{ jobId }] : []), ...executionFilters(request)]),
  );
};

const getExecution: Operation = (context) => async (request, response) => {
  const execution = await loadOr404(context.orm.em.fork(), JobExecutionEntity, param(request, 'id'), 'execution');
  response.json(executionDto(execution));
};

export function jobRoutes(context: ControlPlaneContext): Router {
  const router = Router();
  router.get(PATH, listJobs(context));
  router.post(PATH, postJob(context));
  router.get(`${PATH}/:id`, getJob(context));
  router.patch(`${PATH}/:id`, patchJob(context));
  router.delete(`${PATH}/:id`, deleteJob(context));
  router.get(`${PATH}/:id/executions`, listJobExecutions(context));
  router.get('/api/v1/executions', listExecutions(context));
  router.get('/api/v1/executions/:id', getExecution(context));
  return router;
}
