import { Router } from 'express';
import { JobExecutionEntity } from '../db/entities.ts';
import { conflict, notFound } from '../http/problem.ts';
import { executionDto } from '../resources/jobs.routes.ts';
import { param } from '../resources/common.ts';
import type { ExecutionService } from './execution.service.ts';

// Manual runs and cancellation. The run answers 202 with the queued execution: the sync itself
// happens in ingest, and its progress and result appear on GET /api/v1/executions/{id}.

export function executionRoutes(executions: ExecutionService): Router {
  const router = Router();
  const dto = async (id: string) => {
    const row = await executions.orm.em.fork().findOne(JobExecutionEntity, { id });
    if (!row) throw notFound('execution', id);
    return executionDto(row);
  };

  router.post('/api/v1/jobs/:id/run', async (request, response) => {
    const jobId = param(request, 'id');
    const body = (request.body ?? {}) as { params?: Record<string, unknown> };
    const exists = await executions.orm.em
      .fork()
      .execute<{ id: string }[]>(`select id from scheduler_jobs where id = ?`, [jobId], 'all');
    if (exists.length === 0) throw notFound('job', jobId);
    // NOTE: a manual run is allowed for a disabled job: "disabled" stops its schedule and webhooks,
    // not an explicit request.
    const created = await executions.trigger({ jobId, triggeredBy: 'manual', params: body.params ?? {} });
    if (!created) throw new Error('the execution could not be queued');
    response
      .status(202)
      .location(`/api/v1/executions/${created.id}`)
      .json(await dto(created.id));
  });

  router.post('/api/v1/executions/:id/cancel', async (request, response) => {
    const id = param(request, 'id');
    const outcome = await executions.cancel(id);
    if (outcome === 'not-found') throw notFound('execution', id);
    if (!outcome.cancelled)
      throw conflict('already-finished', `execution "${id}" already ended with status ${outcome.execution.status}`, {
        executionStatus: outcome.execution.status,
      });
    response.json(await dto(id));
  });
  return router;
}
