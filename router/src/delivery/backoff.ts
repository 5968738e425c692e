export interface BackoffPolicy {
  /** Attempts in all, the first included; past it the batch is dead-lettered. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry): exponential with "full jitter", so
 * many routers retrying one recovering peer do not come back in lock step. A peer's Retry-After
 * wins when it asks for longer than the computed delay.
 */
export function retryDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(ceiling / 2 + (random() * ceiling) / 2);
  return retryAfterMs !== undefined ? Math.max(jittered, Math.min(retryAfterMs, policy.maxDelayMs * 10)) : jittered;
}

/**
 * Delay before retrying a Kafka request (a commit, a read): the destination's backoff, capped at
 * 5 s, so a router resumes within seconds of a broker coming back whatever `maxDelayMs` says.
 */
export function kafkaRetryDelayMs(policy: BackoffPolicy, attempt: number): number {
  return Math.min(retryDelayMs(policy, attempt), 5_000);
}

/** Sleeps, but wakes early (rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
