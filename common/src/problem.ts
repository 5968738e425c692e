// RFC 9457 problem details: the one error shape of every Muxly HTTP API.

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
