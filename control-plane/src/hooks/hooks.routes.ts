import { randomBytes } from 'node:crypto';
import express, { Router, type Request } from 'express';
import { errorMessage, type Logger, type SecretKeyring } from '@muxly/common';
import type { EncryptedValue } from '@muxly/common';
import type { ExecutionService } from '../executions/execution.service.ts';
import { insertExecution, sqlRows } from '../executions/store.ts';
import { ApiProblem } from '../http/problem.ts';
import { webhookSecretContext } from '../resources/webhook-triggers.routes.ts';
import { BAD_SIGNATURE, verifyWebhook } from './signature.ts';

// The public `POST /hooks/{path}`: starts the trigger's job when the request is signed with the
// trigger's secret (signature.ts). No API credentials: the HMAC is the authentication. Every
// refusal is a problem+json 4xx and starts nothing.

export interface HookOptions {
  executions: ExecutionService;
  keyring: SecretKeyring;
  logger: Logger;
  toleranceSeconds: number;
  /** How long the previous secret keeps working after a change. */
  secretGraceSeconds: number;
  maxBodyBytes: number;
  now?: () => Date;
}

interface TriggerRow {
  id: string;
  job_id: string;
  enabled: boolean;
  job_enabled: boolean;
  secret: EncryptedValue | null;
  previous_secret: EncryptedValue | null;
  secret_rotated_at: Date | null;
}

/** A random secret per process: what unknown paths are checked against. */
const UNKNOWN_PATH_SECRET = randomBytes(32).toString('base64url');

export function hookRoutes(options: HookOptions): Router {
  const router = Router();
  const now = options.now ?? (() => new Date());
  const orm = options.executions.orm;

  // NOTE: the raw body is kept as bytes: the signature is over exactly what was sent, and a JSON
  // parse and re-serialization would change it.
  router.post(
    '/hooks/*path',
    express.raw({ type: () => true, limit: options.maxBodyBytes }),
    async (request: Request, response) => {
      const segments = (request.params as { path?: string[] | string }).path;
      const path = Array.isArray(segments) ? segments.join('/') : String(segments ?? '');
      const trigger = (
        await sqlRows<TriggerRow>(
          orm.em.fork(),
          `select t.id, t.job_id, t.enabled, j.enabled as job_enabled, t.secret, t.previous_secret, t.secret_rotated_at
         from webhook_triggers t join scheduler_jobs j on j.id = t.job_id where t.path = ?`,
          [path],
        )
      )[0];
      // NOTE: an unknown path is checked like a known one against a secret nobody holds, so it gets
      // the same answer (400 or 401) after the same work: the answer does not reveal which paths exist.
      const secrets = trigger ? decryptSecrets(trigger, options, now()) : [UNKNOWN_PATH_SECRET];
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const verdict = verifyWebhook({
        headers: request.headers,
        body,
        secrets,
        nowSeconds: Math.floor(now().getTime() / 1000),
        toleranceSeconds: options.toleranceSeconds,
      });
      if (!verdict.ok || !trigger) {
        const refusal = verdict.ok ? BAD_SIGNATURE : verdict;
        options.logger.warn('webhook refused', {
          ...(trigger ? { triggerId: trigger.id } : { unknownPath: path.slice(0, 200) }),
          reason: refusal.type,
        });
        throw new ApiProblem(refusal.status, refusal.type, refusal.detail);
      }
      if (!trigger.enabled || !trigger.job_enabled) {
        throw new ApiProblem(
          409,
          'trigger-disabled',
          `the webhook trigger or its job is disabled; nothing was started`,
        );
      }

      const params = paramsFrom(request, body);
      // NOTE: the delivery row and the execution are written in one transaction; the primary key on
      // (trigger, delivery id) lets exactly one of several concurrent identical deliveries (or
      // control-plane instances) through.
      const execution = await orm.em.fork().transactional(async (tx) => {
        const fresh = await sqlRows<{ delivery_id: string }>(
          tx,
          `insert into webhook_deliveries (trigger_id, delivery_id) values (?, ?) on conflict do nothing returning delivery_id`,
          [trigger.id, verdict.deliveryId],
        );
        if (fresh.length === 0) return null;
        const created = await insertExecution(tx, { jobId: trigger.job_id, triggeredBy: 'webhook', params });
        if (!created) throw new Error('the execution could not be queued');
        await tx.execute(
          `update webhook_deliveries set execution_id = ? where trigger_id = ? and delivery_id = ?`,
          [created.id, trigger.id, verdict.deliveryId],
          'run',
        );
        return created;
      });
      if (!execution)
        throw new ApiProblem(
          409,
          'replayed-delivery',
          `delivery "${verdict.deliveryId}" was already received; nothing was started`,
        );
      await options.executions.dispatch(execution.id);
      options.logger.info('webhook accepted', {
        triggerId: trigger.id,
        deliveryId: verdict.deliveryId,
        executionId: execution.id,
      });
      response
        .status(202)
        .json({ executionId: execution.id, jobId: execution.job_id, deliveryId: verdict.deliveryId, status: 'queued' });
    },
  );
  return router;
}

function decryptSecrets(trigger: TriggerRow, options: HookOptions, now: Date): string[] {
  const secrets: string[] = [];
  const context = webhookSecretContext(trigger.id);
  try {
    if (trigger.secret) secrets.push(String(options.keyring.decrypt(trigger.secret, context)));
    const rotatedAt = trigger.secret_rotated_at ? new Date(trigger.secret_rotated_at).getTime() : 0;
    if (trigger.previous_secret && now.getTime() - rotatedAt <= options.secretGraceSeconds * 1000) {
      secrets.push(String(options.keyring.decrypt(trigger.previous_secret, context)));
    }
  } catch (error) {
    // A secret that no longer decrypts (platform key removed) refuses every request; say why in the log only.
    options.logger.error('webhook trigger secret cannot be decrypted', {
      triggerId: trigger.id,
      error: errorMessage(error),
    });
  }
  return secrets;
}

/** A JSON body may carry `{"params": {...}}` for the run; anything else is not interpreted. */
function paramsFrom(request: Request, body: Buffer): Record<string, unknown> {
  if (!request.is('application/json') || body.length === 0) return {};
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { params?: unknown };
    if (parsed && typeof parsed.params === 'object' && parsed.params !== null && !Array.isArray(parsed.params))
      return parsed.params as Record<string, unknown>;
  } catch {
    // Not JSON after all: the body is signed and accepted, just not used.
  }
  return {};
}

/** Deletes delivery ids old enough that their timestamps would be refused anyway. */
export async function pruneDeliveries(orm: ExecutionService['orm'], toleranceSeconds: number): Promise<void> {
  await orm.em
    .fork()
    .execute(
      `delete from webhook_deliveries where received_at < now() - make_interval(secs => ?)`,
      [toleranceSeconds * 2 + 60],
      'run',
    );
}
