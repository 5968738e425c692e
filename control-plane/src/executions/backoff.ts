/** A job's retry backoff (the API's `backoff` object; defaults as in the jobs API). */
export interface Backoff {
  initialSeconds?: number;
  maxSeconds?: number;
  multiplier?: number;
}

/** Seconds to wait before retry number `retry` (1 = the first retry): initial × multiplier^(retry−1), capped. */
export function backoffSeconds(backoff: Backoff, retry: number): number {
  const initial = backoff.initialSeconds ?? 30;
  const max = backoff.maxSeconds ?? 3600;
  const multiplier = backoff.multiplier ?? 2;
  return Math.min(max, initial * multiplier ** Math.max(0, retry - 1));
}
