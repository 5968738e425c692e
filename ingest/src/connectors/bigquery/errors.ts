import { PermanentError, RefusedError, RetryableError, ThrottledError, parseRetryAfter } from '@muxly/common';
import { googleErrorReasons } from '../toolkit/google-auth.ts';

// The one place where @google-cloud/bigquery failures become Muxly's error classes. The client
// throws ApiError { code (HTTP status), message, errors: [{ reason }], response }.

const THROTTLE_REASONS = new Set(['rateLimitExceeded', 'quotaExceeded', 'jobRateLimitExceeded']);
const RETRY_REASONS = new Set(['backendError', 'internalError']);

export function mapBigQueryError(error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const reasons = googleErrorReasons(error);
  const headers = (error as { response?: { headers?: Record<string, string> } }).response?.headers;
  const retryAfterMs = parseRetryAfter(headers?.['retry-after']);
  if (typeof code === 'number') {
    // BigQuery reports rate limits as 403 with a reason, not only as 429.
    if (code === 429 || reasons.some((reason) => THROTTLE_REASONS.has(reason))) {
      return new ThrottledError(`BigQuery quota or rate limit (${code} ${reasons.join(',')}): ${message}`, {
        retryAfterMs,
      });
    }
    if (code === 401) return new RefusedError('authenticate', `BigQuery refused the credentials (401): ${message}`);
    if (code === 403)
      return new RefusedError('permission', `BigQuery denied access (403 ${reasons.join(',')}): ${message}`);
    if (code === 408 || code >= 500 || reasons.some((reason) => RETRY_REASONS.has(reason))) {
      return new RetryableError(`BigQuery answered ${code}: ${message}`, { retryAfterMs });
    }
    if (code === 400 || code === 404)
      return new RefusedError('check', `BigQuery rejected the query (${code} ${reasons.join(',')}): ${message}`);
    return new PermanentError(`BigQuery answered ${code}: ${message}`, { status: code });
  }
  // Socket and DNS failures surface as plain errors with a system code.
  const systemCode = (error as { code?: unknown }).code;
  if (typeof systemCode === 'string' && /^E[A-Z]+/.test(systemCode))
    return new RetryableError(`BigQuery unreachable: ${message}`, { cause: error });
  if (error instanceof Error && /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up/.test(message)) {
    return new RetryableError(`BigQuery unreachable: ${message}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(message);
}
