import type { ErrorRequestHandler, Response } from 'express';
import {
  ConnectionException,
  OptimisticLockError,
  ForeignKeyConstraintViolationException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { errorMessage, problemTitle, SecretDecryptionError, type Logger } from '@muxly/common';

// RFC 9457 problem details: the only error shape of the API. Handlers throw ApiProblem; the one
// error middleware below renders it, and maps validator and database errors into the same shape
// so a client never sees a raw constraint violation or a stack trace.

export const PROBLEM_TYPE_BASE = 'https://muxly.dev/problems/';

export interface FieldProblem {
  pointer: string;
  detail: string;
}

export class ApiProblem extends Error {
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
    super(detail);
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

export function sendProblem(
  response: Response,
  status: number,
  type: string,
  detail: string,
  extra: Record<string, unknown> = {},
): void {
  // NOTE: res.json (not send) so that, in tests, the response validator checks problems too;
  // res.json keeps the content type set here.
  response
    .status(status)
    .type('application/problem+json')
    .json({ type: `${PROBLEM_TYPE_BASE}${type}`, title: problemTitle(status), status, detail, ...extra });
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

export function problemMiddleware(logger: Logger): ErrorRequestHandler {
  return (error: unknown, request, response, next) => {
    if (response.headersSent) return next(error);
    if (error instanceof ApiProblem) {
      return sendProblem(response, error.status, error.type, error.message, {
        ...error.extensions,
        ...(error.errors ? { errors: error.errors } : {}),
      });
    }
    if (isDatabaseUnavailable(error)) {
      logger.warn('database unavailable', { method: request.method, path: request.path, error: errorMessage(error) });
      response.setHeader('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendProblem(
        response,
        503,
        'database-unavailable',
        'the database is not reachable right now; retry in a few seconds',
      );
    }
    if (error instanceof OptimisticLockError) {
      return sendProblem(
        response,
        412,
        'stale-version',
        'the object was changed by someone else; read it again and retry with its new ETag',
      );
    }
    if (error instanceof UniqueConstraintViolationException) {
      return sendProblem(
        response,
        409,
        'duplicate',
        'an object with the same unique value (id, name or path) already exists',
      );
    }
    if (error instanceof ForeignKeyConstraintViolationException) {
      return sendProblem(
        response,
        409,
        'referenced',
        'the change breaks a reference between objects (a referenced object is missing or still in use)',
      );
    }
    if (error instanceof SecretDecryptionError) {
      logger.error('stored secret cannot be decrypted', {
        method: request.method,
        path: request.path,
        error: error.message,
      });
      return sendProblem(
        response,
        500,
        'secret-unreadable',
        `the stored credentials cannot be decrypted: ${error.message}. Configure the missing key in controlPlane.secrets.keys, or send new credentials`,
      );
    }
    const failure = error as ValidatorError & { type?: string };
    if (failure.type === 'entity.parse.failed') {
      return sendProblem(response, 400, 'malformed-json', 'the request body is not valid JSON');
    }
    if (failure.type === 'entity.too.large') {
      return sendProblem(response, 413, 'too-large', 'the request body is too large');
    }
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
      return sendProblem(
        response,
        failure.status,
        type,
        failure.status === 404
          ? `no such endpoint: ${request.method} ${request.path}`
          : (failure.message ?? 'invalid request'),
        errors.length > 0 ? { errors } : {},
      );
    }
    // Unexpected: log the details for the operator, answer without them.
    logger.error('request failed', {
      method: request.method,
      path: request.path,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    return sendProblem(response, 500, 'internal', 'the request failed unexpectedly; the server log has the details');
  };
}
