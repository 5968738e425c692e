import { PermanentError, RefusedError, RetryableError, ThrottledError, parseRetryAfter } from '@muxly/common';

// The one place where @hubspot/api-client failures become Muxly's error classes. The client throws
// ApiException { code, body, headers } for HTTP errors and node-fetch errors for network failures.

interface ApiExceptionLike {
  code: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const isApiException = (error: unknown): error is ApiExceptionLike =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number';

function hubspotMessage(body: unknown): string {
  if (typeof body === 'string') {
    try {
      return hubspotMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 300);
    }
  }
  if (typeof body === 'object' && body !== null) {
    const { message, category } = body as { message?: unknown; category?: unknown };
    return [category, message]
      .filter((part) => typeof part === 'string')
      .join(': ')
      .slice(0, 300);
  }
  return '';
}

export function mapHubSpotError(error: unknown): Error {
  if (isApiException(error)) {
    const detail = hubspotMessage(error.body);
    const retryAfterMs = parseRetryAfter(error.headers?.['retry-after']);
    if (error.code === 401)
      return new RefusedError(
        'authenticate',
        `HubSpot refused the access token (401 ${detail}): check the private app token, or the public app's refresh token`,
      );
    if (error.code === 403)
      return new RefusedError(
        'permission',
        `HubSpot denied access (403 ${detail}): the private app needs the CRM read scope for this object`,
      );
    if (error.code === 429) return new ThrottledError(`HubSpot rate limit (429 ${detail})`, { retryAfterMs });
    if (error.code === 408 || error.code >= 500)
      return new RetryableError(`HubSpot answered ${error.code} ${detail}`, { retryAfterMs });
    // 400 on search is a bad object type, property or filter: the configuration must change.
    if (error.code === 400 || error.code === 404)
      return new RefusedError('check', `HubSpot rejected the search (${error.code} ${detail})`);
    return new PermanentError(`HubSpot answered ${error.code} ${detail}`, { status: error.code });
  }
  // node-fetch FetchError (connection refused, reset, DNS): transient.
  if (error instanceof Error && (error.name === 'FetchError' || 'errno' in error)) {
    return new RetryableError(`HubSpot unreachable: ${error.message}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
