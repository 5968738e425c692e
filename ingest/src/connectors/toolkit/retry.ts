import { Type, type Static } from '@sinclair/typebox';
import { RetryableError, errorMessage } from '@muxly/common';
import type { ConnectorContext } from '../connector.ts';

// The bounded retry policy every built-in connector owns. The official clients' own retries are
// disabled or bounded (docs/connectors.md): they ignore Retry-After, and two retry layers
// multiply attempts. Here one layer decides, honoring the peer's Retry-After when it gave one.

export const RetryPolicy = Type.Object(
  {
    maxAttempts: Type.Integer({
      minimum: 1,
      maximum: 20,
      default: 5,
      description: 'Attempts per request, the first included.',
    }),
    initialDelayMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1_000 }),
    maxDelayMs: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: 60_000,
      description: 'Longest single wait, Retry-After included.',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type RetryPolicy = Static<typeof RetryPolicy>;

const DEFAULT_POLICY: RetryPolicy = { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 60_000 };

/** The wait before attempt `attempt + 1`: Retry-After when known, else exponential with full jitter. */
export function retryDelay(
  error: RetryableError,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  if (error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/**
 * Runs `operation`, retrying RetryableError (ThrottledError included) up to the policy's attempts.
 * Any other error, and the last RetryableError, propagates unchanged.
 */
export async function withRetry<T>(
  what: string,
  operation: (attempt: number) => Promise<T>,
  context: Pick<ConnectorContext, 'log' | 'sleep' | 'signal'>,
  policy: RetryPolicy = DEFAULT_POLICY,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    context.signal.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (error) {
      if (!(error instanceof RetryableError) || attempt >= policy.maxAttempts) throw error;
      const delayMs = retryDelay(error, attempt, policy);
      context.log.warn('connector request failed, retrying', {
        operation: what,
        attempt,
        delayMs,
        errorClass: error.name,
        error: errorMessage(error),
      });
      await context.sleep(delayMs);
    }
  }
}
