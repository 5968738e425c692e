import { PermanentError, RefusedError, RetryableError, ThrottledError } from '@muxly/common';

// The one place where @google-analytics/data failures become Muxly's error classes. google-gax
// reports gRPC status codes even over REST fallback: 429 arrives as 8 RESOURCE_EXHAUSTED,
// 503 as 14 UNAVAILABLE, 401 as 16 UNAUTHENTICATED (docs/development.md).

const GRPC = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export function mapGa4Error(error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case GRPC.RESOURCE_EXHAUSTED:
      return new ThrottledError(`GA4 quota exhausted: ${message}`);
    case GRPC.UNAVAILABLE:
    case GRPC.DEADLINE_EXCEEDED:
    case GRPC.INTERNAL:
    case GRPC.ABORTED:
      return new RetryableError(`GA4 temporarily failed (gRPC ${code}): ${message}`);
    case GRPC.UNAUTHENTICATED:
      return new RefusedError('authenticate', `GA4 refused the credentials: ${message}`);
    case GRPC.PERMISSION_DENIED:
      return new RefusedError(
        'permission',
        `GA4 denied access to the property (grant the service account Viewer on it): ${message}`,
      );
    case GRPC.INVALID_ARGUMENT:
    case GRPC.NOT_FOUND:
      return new RefusedError('check', `GA4 rejected the report request: ${message}`);
    default:
      if (typeof code === 'string' && /^E[A-Z]+/.test(code))
        return new RetryableError(`GA4 unreachable: ${message}`, { cause: error });
      if (typeof code === 'number') return new PermanentError(`GA4 failed (gRPC ${code}): ${message}`);
      return error instanceof Error ? error : new Error(message);
  }
}
