import type { ErrorRequestHandler, Request, Response } from 'express';
import {
  ConnectionException,
  OptimisticLockError,
  ForeignKeyConstraintViolationException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import {
  errorMessage,
  HttpProblem,
  problem,
  problemMiddleware as sharedProblemMiddleware,
  sendProblem as sendSharedProblem,
  SecretDecryptionError,
  type FieldError,
  type Logger,
  type ProblemAnswer,
} from '@muxly/common';

// RFC 9457 problem details: the only error shape of the API, rendered by the shared middleware of
// @muxly/common. Handlers throw ApiProblem (an HttpProblem named by a short type); the mapping
// below turns validator and database errors into the same shape, so a client never sees a raw
// constraint violation or a stack trace.

export const PROBLEM_TYPE_BASE = 'https://muxly.dev/problems/';

export type FieldProblem = FieldError;

export class ApiProblem extends HttpProblem {
  readonly status: number;
  readonly type: string;
  readonly errors: FieldProblem[] | undefined;
  readonly extensions: Record<string, unknown>;
  constructor(
    status: number,
    type: string,
    detail: string,
    options: { errors?: FieldProblem[]; extensions?: Record<string, unknown> } = {},
  ) {
    super(status, detail, {
      type: `${PROBLEM_TYPE_BASE}${type}`,
      ...options.extensions,
      ...(options.errors ? { errors: options.errors } : {}),
    });
    this.status = status;
    this.type = type;
    this.errors = options.errors;
    this.extensions = options.extensions ?? {};
  }
}

export const notFound = (what: string, id: string) =>
  new ApiProblem(404, 'not-found', `${what} "${id}" does not exist`);
export const unprocessable = (detail: string, errors?: FieldProblem[]) =>
  new ApiProblem(422, 'invalid-object', detail, errors ? { errors } : {});
export const conflict = (type: string, detail: string, extensions?: Record<string, unknown>) =>
  new ApiProblem(409, type, detail, extensions ? { extensions } : {});

/** The control plane's problem named by its short type (`not-found` → https://muxly.dev/problems/not-found). */
const apiProblem = (status: number, type: string, detail: string, extra: Record<string, unknown> = {}) =>
  problem(status, detail, { type: `${PROBLEM_TYPE_BASE}${type}`, ...extra });

export function sendProblem(
  response: Response,
  status: number,
  type: string,
  detail: string,
  extra: Record<string, unknown> = {},
): void {
  sendSharedProblem(response, apiProblem(status, type, detail, extra));
}

/** What a client is told to wait before retrying while PostgreSQL is away (a restart takes seconds). */
const DATABASE_RETRY_AFTER_SECONDS = 5;

// PostgreSQL's "the server is going away or not there yet" answers (class 08 connection
// exceptions, 57P01-57P03 shutdown and start-up) and the socket errors of a server that is gone.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Timeout acquiring a connection|the database system is (starting up|shutting down)/i;

/**
 * True when an error (or one of its causes) says the database cannot be reached, as opposed to a
 * query it refused: the request is answered 503 with Retry-After, and the pool reconnects by
 * itself once PostgreSQL is back.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
    if (current instanceof ConnectionException) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (UNAVAILABLE_MESSAGES.test(current.message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

interface ValidatorError {
  status?: number;
  message?: string;
  errors?: { path?: string; message?: string }[];
}

/** Turns "/body/config/port" or ".body.config" (validator paths) into a JSON pointer into the request. */
function toPointer(path: string | undefined): string {
  if (!path) return '';
  return path.startsWith('/') ? path : '/' + path.replace(/^\./, '').replaceAll('.', '/');
}

/** The answer to a validator, body-parser or database error; undefined for any other error. */
function describeControlPlaneError(error: unknown, request: Request, logger: Logger): ProblemAnswer | undefined {
  const answer = (status: number, type: string, detail: string, extra: Record<string, unknown> = {}) => ({
    problem: apiProblem(status, type, detail, extra),
    reason: type,
  });
  if (isDatabaseUnavailable(error)) {
    logger.warn('database unavailable', { method: request.method, path: request.path, error: errorMessage(error) });
    return {
      ...answer(503, 'database-unavailable', 'the database is not reachable right now; retry in a few seconds'),
      headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
    };
  }
  if (error instanceof OptimisticLockError)
    return answer(
      412,
      'stale-version',
      'the object was changed by someone else; read it again and retry with its new ETag',
    );
  if (error instanceof UniqueConstraintViolationException)
    return answer(409, 'duplicate', 'an object with the same unique value (id, name or path) already exists');
  if (error instanceof ForeignKeyConstraintViolationException)
    return answer(
      409,
      'referenced',
      'the change breaks a reference between objects (a referenced object is missing or still in use)',
    );
  if (error instanceof SecretDecryptionError) {
    logger.error('stored secret cannot be decrypted', {
      method: request.method,
      path: request.path,
      error: error.message,
    });
    return answer(
      500,
      'secret-unreadable',
      `the stored credentials cannot be decrypted: ${error.message}. Configure the missing key in controlPlane.secrets.keys, or send new credentials`,
    );
  }
  const failure = error as ValidatorError & { type?: string };
  if (failure.type === 'entity.parse.failed')
    return answer(400, 'malformed-json', 'the request body is not valid JSON');
  if (failure.type === 'entity.too.large') return answer(413, 'too-large', 'the request body is too large');
  if (typeof failure.status === 'number' && failure.status >= 400 && failure.status < 500) {
    const errors = (failure.errors ?? []).map((item) => ({
      pointer: toPointer(item.path),
      detail: item.message ?? 'is invalid',
    }));
    const type =
      failure.status === 404
        ? 'not-found'
        : failure.status === 405
          ? 'method-not-allowed'
          : failure.status === 415
            ? 'unsupported-media-type'
            : 'invalid-request';
    return answer(
      failure.status,
      type,
      failure.status === 404
        ? `no such endpoint: ${request.method} ${request.path}`
        : (failure.message ?? 'invalid request'),
      errors.length > 0 ? { errors } : {},
    );
  }
  return undefined;
}

export function problemMiddleware(logger: Logger): ErrorRequestHandler {
  return sharedProblemMiddleware({
    logger,
    describe: (error, request) => describeControlPlaneError(error, request, logger),
    internal: apiProblem(500, 'internal', 'the request failed unexpectedly; the server log has the details'),
  });
}
