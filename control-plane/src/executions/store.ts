import type { EntityManager } from '@mikro-orm/postgresql';
import type { MikroORM } from '@mikro-orm/postgresql';
import { newId } from '../resources/common.ts';

// SQL for executions. Plain SQL (not the entity layer) because the guarantees live in single
// statements: INSERT … ON CONFLICT DO NOTHING decides which instance fires a tick, and
// UPDATE … WHERE status IN (…) RETURNING decides which message moves an execution, so two
// instances or a redelivered message can never apply a transition twice.

type TriggeredBy = 'schedule' | 'manual' | 'webhook' | 'retry';

export interface ExecutionRow {
  id: string;
  job_id: string;
  status: string;
  attempt: number;
  triggered_by: TriggeredBy;
  params: Record<string, unknown>;
  retry_of: string | null;
  created_at: Date;
  dispatched_at: Date | null;
  deadline_at: Date | null;
}

export interface JobRow {
  id: string;
  connector_id: string;
  action: string;
  params: Record<string, unknown>;
  enabled: boolean;
  max_retries: number;
  backoff: { initialSeconds?: number; maxSeconds?: number; multiplier?: number };
  timeout_seconds: number;
}

export interface NewExecution {
  jobId: string;
  triggeredBy: TriggeredBy;
  params?: Record<string, unknown>;
  attempt?: number;
  /** The cron tick this execution is for: unique per job. */
  scheduledFor?: Date;
  retryOf?: string;
  notBefore?: Date;
}

type Sql = Pick<EntityManager, 'execute'>;

export const sqlRows = <T>(em: Sql, query: string, params: unknown[] = []) => em.execute<T[]>(query, params, 'all');

/** Inserts a queued execution; null when one already exists for that tick or retry (another instance won). */
export async function insertExecution(em: Sql, execution: NewExecution): Promise<ExecutionRow | null> {
  const rows = await sqlRows<ExecutionRow>(
    em,
    `insert into job_executions (id, job_id, status, attempt, triggered_by, params, scheduled_for, retry_of, not_before, counts)
     values (?, ?, 'queued', ?, ?, ?::jsonb, ?, ?, ?, '{}'::jsonb)
     on conflict do nothing
     returning *`,
    [
      newId('exe'),
      execution.jobId,
      execution.attempt ?? 1,
      execution.triggeredBy,
      JSON.stringify(execution.params ?? {}),
      execution.scheduledFor ?? null,
      execution.retryOf ?? null,
      execution.notBefore ?? new Date(),
    ],
  );
  return rows[0] ?? null;
}

export async function loadJob(em: Sql, jobId: string): Promise<JobRow | null> {
  const rows = await sqlRows<JobRow>(
    em,
    `select id, connector_id, action, params, enabled, max_retries, backoff, timeout_seconds from scheduler_jobs where id = ?`,
    [jobId],
  );
  return rows[0] ?? null;
}

/**
 * Claims queued executions that are due and not dispatched yet (one id, or up to `limit` of any),
 * setting their deadline. NOTE: FOR UPDATE SKIP LOCKED lets several instances claim at once
 * without waiting on or double-claiming each other's rows.
 */
export async function claimDue(
  orm: MikroORM,
  options: { id?: string; limit?: number },
): Promise<(ExecutionRow & { timeout_seconds: number })[]> {
  const filter = options.id ? 'e.id = ?' : 'true';
  const params: unknown[] = options.id ? [options.id] : [];
  return sqlRows(
    orm.em.fork(),
    `update job_executions x set dispatched_at = now(), deadline_at = now() + make_interval(secs => j.timeout_seconds)
     from scheduler_jobs j
     where x.job_id = j.id and x.id in (
       select e.id from job_executions e
       where ${filter} and e.status = 'queued' and e.dispatched_at is null and e.not_before <= now()
       order by e.not_before limit ${Math.max(1, options.limit ?? 1)} for update skip locked)
     returning x.*, j.timeout_seconds`,
    params,
  );
}

/** Gives a claim back after the command could not be published (a later sweep dispatches it). */
export async function releaseClaim(orm: MikroORM, id: string): Promise<void> {
  await orm.em
    .fork()
    .execute(
      `update job_executions set dispatched_at = null, deadline_at = null where id = ? and status = 'queued'`,
      [id],
      'run',
    );
}

/** Marks executions past their deadline timed out; returns them (each exactly once across instances). */
export async function expireOverdue(orm: MikroORM): Promise<ExecutionRow[]> {
  return sqlRows(
    orm.em.fork(),
    `update job_executions set status = 'timed_out', ended_at = now(),
       error = 'timed out: no result within the job''s timeoutSeconds'
     where status in ('queued', 'running') and deadline_at < now()
     returning *`,
  );
}

export async function loadConnector(
  em: Sql,
  id: string,
): Promise<{
  id: string;
  type: string;
  config: Record<string, unknown>;
  credentials: Record<string, unknown> | null;
  state: Record<string, unknown> | null;
} | null> {
  const rows = await sqlRows<{
    id: string;
    type: string;
    config: Record<string, unknown>;
    credentials: Record<string, unknown> | null;
    state: Record<string, unknown> | null;
  }>(em, `select id, type, config, credentials, state from connectors where id = ?`, [id]);
  return rows[0] ?? null;
}

/**
 * Stores a connector's cursor after a run published records. NOTE: results of different runs can
 * arrive out of order (a timed-out run reporting late); the cursor of an older execution never
 * replaces the one a newer execution stored.
 */
export async function storeCursor(
  em: Sql,
  connectorId: string,
  execution: { id: string; created_at: Date },
  cursor: unknown,
): Promise<void> {
  const state = {
    cursor,
    executionId: execution.id,
    executionCreatedAt: new Date(execution.created_at).toISOString(),
    updatedAt: new Date().toISOString(),
  };
  await em.execute(
    `update connectors set state = coalesce(state, '{}'::jsonb) || ?::jsonb
     where id = ? and (state is null or state->>'executionCreatedAt' is null or (state->>'executionCreatedAt')::timestamptz <= ?)`,
    [JSON.stringify(state), connectorId, new Date(execution.created_at)],
    'run',
  );
}
