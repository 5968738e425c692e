import { PermanentError, RetryableError, ThrottledError } from '../errors.ts';

// The one place where HTTP answers become the error classes the pipelines branch on
// (docs/development.md "Conventions the code keeps"): 408, 429 and 5xx are worth retrying, other 4xx are not.

/**
 * Milliseconds to wait according to a Retry-After header: delay-seconds or an HTTP date
 * (RFC 9110 section 10.2.3). Undefined when absent or unparseable; never negative.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Fractional seconds are not in the RFC but some servers send them; accept, do not guess more.
  if (/^\d+\.\d+$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** True for statuses a retry may fix. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/**
 * The error for a non-success HTTP status. `detail` is a short excerpt of the answer for the
 * message; callers must not pass request secrets into it.
 */
export function errorForStatus(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  detail = '',
  now: number = Date.now(),
): RetryableError | PermanentError {
  const suffix = detail === '' ? '' : `: ${detail.slice(0, 300)}`;
  const retryAfterMs = parseRetryAfter(headers['retry-after'], now);
  if (status === 429) return new ThrottledError(`HTTP 429 Too Many Requests${suffix}`, { retryAfterMs });
  if (status === 408 || status >= 500) return new RetryableError(`HTTP ${status}${suffix}`, { retryAfterMs });
  return new PermanentError(`HTTP ${status}${suffix}`, { status });
}
