import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from './observability/logger.ts';

// RFC 9457 problem details: the one error shape of every Muxly HTTP API, and the one way to send
// them. Handlers throw HttpProblem; each service's error middleware comes from problemMiddleware,
// with only the mapping of its own errors (validator, body parser, database) passed in.

export interface FieldError {
  /** JSON pointer into the request body (RFC 6901). */
  pointer: string;
  detail: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The standard reason phrase of an HTTP status, the `title` of its problem. */
export function problemTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

/** Builds a problem; `type` is a stable URI per kind of problem that the docs explain. */
export function problem(status: number, detail?: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: extra.type ?? `https://muxly.dev/problems/${status}`,
    title: extra.title ?? problemTitle(status),
    status,
    ...(detail ? { detail } : {}),
    ...extra,
  };
}

/** An error that carries the problem to answer with; thrown by handlers, rendered by one middleware. */
export class HttpProblem extends Error {
  readonly problem: Problem;
  readonly headers: Record<string, string>;
  constructor(status: number, detail?: string, extra: Partial<Problem> = {}, headers: Record<string, string> = {}) {
    super(detail ?? problemTitle(status));
    this.problem = problem(status, detail, extra);
    this.headers = headers;
  }
}

/** Sends a problem as application/problem+json. */
export function sendProblem(response: Response, body: Problem, headers: Record<string, string> = {}): void {
  // NOTE: res.json (not send) so that, where responses are validated (the control plane's
  // tests), problems are checked too; res.json keeps the content type set here.
  response.status(body.status).set(headers).type(PROBLEM_CONTENT_TYPE).json(body);
}

/** A problem to answer, with a short stable reason for metrics and logs. */
export interface ProblemAnswer {
  problem: Problem;
  reason: string;
  headers?: Record<string, string>;
}

export interface ProblemMiddlewareOptions {
  logger: Logger;
  /** Maps the service's own errors into a problem; undefined when the error is none of them. */
  describe?: (error: unknown, request: Request, response: Response) => ProblemAnswer | undefined;
  /** The answer to an unexpected error; its details stay in the log, never in the answer. */
  internal: Problem;
  /** Called with every problem answered (rejection counters). */
  onAnswer?: (status: number, reason: string) => void;
  /** A request the server already answered some other way (and closed): the error is left alone. */
  alreadyAnswered?: (request: Request) => boolean;
}

/**
 * The error middleware of every Muxly HTTP API: HttpProblem as thrown, the service's own errors as
 * its `describe` maps them, anything else as the `internal` problem with the details logged.
 */
export function problemMiddleware(options: ProblemMiddlewareOptions): ErrorRequestHandler {
  return (error: unknown, request, response, next) => {
    if (options.alreadyAnswered?.(request)) return;
    if (response.headersSent) return next(error);
    const answer = (body: Problem, reason: string, headers: Record<string, string> = {}) => {
      options.onAnswer?.(body.status, reason);
      sendProblem(response, body, headers);
    };
    if (error instanceof HttpProblem)
      return answer(error.problem, error.problem.type.split('/').pop() ?? 'problem', error.headers);
    const described = options.describe?.(error, request, response);
    if (described) return answer(described.problem, described.reason, described.headers);
    options.logger.error('request failed', {
      method: request.method,
      path: request.path,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      trace_id: (response.locals.trace as { traceId?: string } | undefined)?.traceId,
    });
    return answer(options.internal, 'internal');
  };
}
