import type { MikroORM } from '@mikro-orm/postgresql';
import { errorMessage, type KafkaProducer, type Logger, type SecretKeyring, type TopicNames } from '@muxly/common';
import type { CancelCommand, JobResult, RunCommand } from '@muxly/schemas';
import { backoffSeconds } from './backoff.ts';
import {
  claimDue,
  expireOverdue,
  insertExecution,
  loadConnector,
  loadJob,
  releaseClaim,
  sqlRows,
  storeCursor,
  type ExecutionRow,
  type NewExecution,
} from './store.ts';

// The life of an execution (docs/scheduling.md):
//   queued ──dispatch (run command)──► running ──► succeeded | failed | cancelled | timed_out
// Every transition is one conditional UPDATE, so the first writer wins and a repeated message,
// a second control-plane instance or a late result from a timed-out run changes nothing.

export interface ExecutionServiceOptions {
  orm: MikroORM;
  producer: KafkaProducer;
  topics: Pick<TopicNames, 'commands'>;
  logger: Logger;
  /** Checks the credentials ingest sends back after a provider rotated a refresh token. */
  keyring: SecretKeyring;
  /** Told when a connector's stored credentials were replaced here (to republish it). */
  onConnectorChanged?: (id: string) => Promise<void>;
}

const TERMINAL = { succeeded: 'succeeded', failed: 'failed', cancelled: 'cancelled', timed_out: 'timed_out' } as const;

export class ExecutionService {
  readonly #orm: MikroORM;
  readonly #producer: KafkaProducer;
  readonly #topics: Pick<TopicNames, 'commands'>;
  readonly #log: Logger;
  readonly #keyring: SecretKeyring;
  readonly #onConnectorChanged: ((id: string) => Promise<void>) | undefined;

  constructor(options: ExecutionServiceOptions) {
    this.#keyring = options.keyring;
    this.#onConnectorChanged = options.onConnectorChanged;
    this.#orm = options.orm;
    this.#producer = options.producer;
    this.#topics = options.topics;
    this.#log = options.logger;
  }

  get orm(): MikroORM {
    return this.#orm;
  }

  /** Queues an execution and dispatches it at once; null when this tick already has one. */
  async trigger(execution: NewExecution): Promise<ExecutionRow | null> {
    const created = await insertExecution(this.#orm.em.fork(), execution);
    if (!created) return null;
    this.#log.info('execution queued', {
      executionId: created.id,
      jobId: created.job_id,
      triggeredBy: created.triggered_by,
      attempt: created.attempt,
    });
    await this.dispatch(created.id);
    return created;
  }

  /**
   * Publishes the run command of one queued execution (or of any due ones). A failed publish gives
   * the claim back and a later sweep tries again; the caller never sees the failure because the
   * execution is already recorded and will run (or time out) either way.
   */
  async dispatch(id?: string): Promise<number> {
    const claimed = await claimDue(this.#orm, id ? { id } : { limit: 20 });
    for (const execution of claimed) {
      try {
        const command = await this.#runCommand(execution);
        await this.#producer.send([
          { topic: this.#topics.commands, key: execution.job_id, value: JSON.stringify(command) },
        ]);
        this.#log.info('execution dispatched', {
          executionId: execution.id,
          jobId: execution.job_id,
          attempt: execution.attempt,
        });
      } catch (error) {
        this.#log.warn('could not dispatch execution; retrying on the next sweep', {
          executionId: execution.id,
          error: errorMessage(error),
        });
        await releaseClaim(this.#orm, execution.id).catch(() => undefined);
      }
    }
    return claimed.length;
  }

  async #runCommand(execution: ExecutionRow & { deadline_at: Date | null }): Promise<RunCommand> {
    const em = this.#orm.em.fork();
    const job = await loadJob(em, execution.job_id);
    if (!job) throw new Error(`job "${execution.job_id}" no longer exists`);
    const connector = await loadConnector(em, job.connector_id);
    if (!connector) throw new Error(`connector "${job.connector_id}" no longer exists`);
    const params = { ...job.params, ...execution.params };
    const fullResync = job.action === 'full-resync' || params.fullResync === true;
    const cursor = fullResync ? null : ((connector.state?.cursor as RunCommand['cursor'] | undefined) ?? null);
    return {
      commandVersion: 1,
      type: 'run',
      executionId: execution.id,
      jobId: job.id,
      attempt: execution.attempt,
      action: job.action,
      params,
      connector: {
        id: connector.id,
        type: connector.type,
        config: connector.config,
        credentials: connector.credentials,
      },
      cursor,
      deadline: new Date(execution.deadline_at ?? Date.now() + job.timeout_seconds * 1000).toISOString(),
      issuedAt: new Date().toISOString(),
    };
  }

  /** Cancels a queued or running execution; 'not-found', or the unchanged row when it had already ended. */
  async cancel(id: string): Promise<{ cancelled: boolean; execution: ExecutionRow } | 'not-found'> {
    const em = this.#orm.em.fork();
    const rows = await sqlRows<ExecutionRow>(
      em,
      `update job_executions set status = 'cancelled', ended_at = now(), error = 'cancelled on request'
       where id = ? and status in ('queued', 'running') returning *`,
      [id],
    );
    const cancelled = rows[0];
    if (cancelled) {
      if (cancelled.dispatched_at) await this.#publishCancel(cancelled, 'cancelled');
      this.#log.info('execution cancelled', { executionId: id, jobId: cancelled.job_id });
      return { cancelled: true, execution: cancelled };
    }
    const existing = (await sqlRows<ExecutionRow>(em, `select * from job_executions where id = ?`, [id]))[0];
    return existing ? { cancelled: false, execution: existing } : 'not-found';
  }

  async #publishCancel(execution: ExecutionRow, reason: CancelCommand['reason']): Promise<void> {
    const command: CancelCommand = {
      commandVersion: 1,
      type: 'cancel',
      executionId: execution.id,
      jobId: execution.job_id,
      reason,
      issuedAt: new Date().toISOString(),
    };
    // NOTE: the execution is already terminal in the database; if this publish fails the sync runs
    // on until its own deadline passes in ingest (the run command carries it) and its late
    // result changes nothing here.
    await this.#producer
      .send([{ topic: this.#topics.commands, key: execution.job_id, value: JSON.stringify(command) }])
      .catch((error: unknown) =>
        this.#log.warn('could not publish the cancel command', {
          executionId: execution.id,
          error: errorMessage(error),
        }),
      );
  }

  /** Applies one message from the job-results topic (idempotent: redeliveries change nothing). */
  async handleResult(result: JobResult): Promise<void> {
    const em = this.#orm.em.fork();
    if (result.credentials) await this.#storeRotatedCredentials(em, result);
    if (result.type === 'started' || result.type === 'progress') {
      await em.execute(
        `update job_executions set status = 'running', started_at = coalesce(started_at, ?), progress = ?::jsonb
         where id = ? and status in ('queued', 'running')`,
        [new Date(result.at), JSON.stringify(result.progress), result.executionId],
        'run',
      );
      return;
    }
    const status = TERMINAL[result.type];
    const counts = result.counts ?? {
      recordsRead: result.progress.records,
      recordsPublished: result.progress.records,
      pages: result.progress.pages,
      streams: {},
    };
    await em.transactional(async (tx) => {
      const moved = await sqlRows<ExecutionRow>(
        tx,
        `update job_executions set status = ?, ended_at = ?, started_at = coalesce(started_at, ?), counts = ?::jsonb, progress = ?::jsonb,
           error = coalesce(?, error)
         where id = ? and status in ('queued', 'running') returning *`,
        [
          status,
          new Date(result.at),
          new Date(result.at),
          JSON.stringify(counts),
          JSON.stringify(result.progress),
          result.error?.message ?? null,
          result.executionId,
        ],
      );
      let execution = moved[0];
      if (!execution) {
        // Already ended here (cancelled, timed out): keep what the run really published.
        execution = (
          await sqlRows<ExecutionRow>(
            tx,
            `update job_executions set counts = ?::jsonb, progress = ?::jsonb where id = ? returning *`,
            [JSON.stringify(counts), JSON.stringify(result.progress), result.executionId],
          )
        )[0];
        if (!execution)
          return void this.#log.warn('job result for an unknown execution ignored', {
            executionId: result.executionId,
          });
      }
      if (result.type === 'succeeded' || result.progress.pages > 0)
        await storeCursor(tx, result.connectorId, execution, result.progress.cursor);
      if (moved[0] && (result.type === 'failed' || result.type === 'timed_out'))
        await this.#scheduleRetry(tx, execution, result.error?.retryable ?? true);
    });
    this.#log.info('execution finished', {
      executionId: result.executionId,
      status,
      records: counts.recordsPublished,
      error: result.error?.message,
    });
  }

  /**
   * Stores the credentials a connector's provider rotated during a run (a new refresh token),
   * in place of the stored ones, as an edit would (version and updated_at move). They arrive
   * encrypted for this connector; ones that do not decrypt are refused, not stored.
   * NOTE: conditional on updated_at: credentials a user saved after the rotation are newer and win,
   * and a late redelivery of an older rotation does not undo a newer one.
   */
  async #storeRotatedCredentials(em: ReturnType<MikroORM['em']['fork']>, result: JobResult): Promise<void> {
    const context = `connector/${result.connectorId}`;
    try {
      this.#keyring.decrypt(result.credentials!, context);
    } catch (error) {
      return void this.#log.warn('rotated credentials that do not decrypt for this connector were ignored', {
        connectorId: result.connectorId,
        executionId: result.executionId,
        error: errorMessage(error),
      });
    }
    const updated = await sqlRows<{ id: string }>(
      em,
      `update connectors set credentials = ?::jsonb, version = version + 1, updated_at = now()
       where id = ? and updated_at < ? returning id`,
      [JSON.stringify(result.credentials), result.connectorId, new Date(result.at)],
    );
    if (updated.length > 0) {
      this.#log.info('connector credentials rotated by the provider were stored', {
        connectorId: result.connectorId,
        executionId: result.executionId,
      });
      // The database holds the change; a publish that fails is repeated by the next edit or start.
      await this.#onConnectorChanged?.(result.connectorId).catch((error: unknown) =>
        this.#log.warn('could not republish the connector after its credentials rotated', {
          connectorId: result.connectorId,
          error: errorMessage(error),
        }),
      );
    } else
      this.#log.warn('rotated credentials not stored: the connector is gone or its credentials changed since', {
        connectorId: result.connectorId,
        executionId: result.executionId,
      });
  }

  /**
   * Queues the next attempt of a failed or timed-out execution when the job allows more, after
   * its backoff. NOTE: the unique index on retry_of makes this happen once per failed attempt.
   */
  async #scheduleRetry(tx: Parameters<typeof sqlRows>[0], execution: ExecutionRow, retryable: boolean): Promise<void> {
    const job = await loadJob(tx, execution.job_id);
    if (!job) return;
    if (!retryable) {
      await tx.execute(
        `update job_executions set error = error || ' (not retried: a retry cannot fix this error)' where id = ?`,
        [execution.id],
        'run',
      );
      return;
    }
    if (execution.attempt > job.max_retries) {
      if (job.max_retries > 0) {
        await tx.execute(
          `update job_executions set error = error || ?  where id = ?`,
          [` (retries exhausted after ${execution.attempt} attempts)`, execution.id],
          'run',
        );
      }
      return;
    }
    const delaySeconds = backoffSeconds(job.backoff, execution.attempt);
    const retry = await insertExecution(tx, {
      jobId: execution.job_id,
      triggeredBy: 'retry',
      attempt: execution.attempt + 1,
      params: execution.params,
      retryOf: execution.id,
      notBefore: new Date(Date.now() + delaySeconds * 1000),
    });
    if (retry)
      this.#log.info('retry queued', {
        executionId: retry.id,
        retryOf: execution.id,
        attempt: retry.attempt,
        inSeconds: delaySeconds,
      });
  }

  /** One pass of the background work: time out overdue runs (cancel them, maybe retry), dispatch due ones. */
  async sweep(): Promise<void> {
    const expired = await expireOverdue(this.#orm);
    for (const execution of expired) {
      this.#log.warn('execution timed out', { executionId: execution.id, jobId: execution.job_id });
      if (execution.dispatched_at) await this.#publishCancel(execution, 'timed_out');
      await this.#orm.em.fork().transactional((tx) => this.#scheduleRetry(tx, execution, true));
    }
    while ((await this.dispatch()) > 0) {
      // keep dispatching while due executions remain
    }
  }
}
