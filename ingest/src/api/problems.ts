import type { ErrorRequestHandler } from 'express';
import { problem, problemMiddleware, type FieldError, type Logger, type ProblemAnswer } from '@muxly/common';
import { answeredByServer } from './client-errors.ts';

interface ValidatorError {
  status?: number;
  message?: string;
  errors?: { path?: string; message?: string; errorCode?: string }[];
  type?: string;
  expose?: boolean;
}

/** '/body/metrics/0/value' or '.body.metrics[0].value' → '/metrics/0/value' */
function bodyPointer(path: string | undefined): string {
  if (!path) return '';
  const normalized = path.startsWith('.') ? path.replace(/\[(\d+)\]/g, '/$1').replaceAll('.', '/') : path;
  return normalized.replace(/^\/body/, '') || '';
}

/**
 * The validator's errors as field errors: the summary lines of the if/then/else that picks the
 * batch or the single shape say nothing about a field, and duplicates are dropped.
 */
function fieldErrors(items: NonNullable<ValidatorError['errors']>): FieldError[] {
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  // A value that matches none of an anyOf's branches gets one error per branch plus a summary:
  // keep only the summary for that field.
  const anyOfFields = new Set(
    items.filter((item) => item.message === 'must match a schema in anyOf').map((item) => bodyPointer(item.path)),
  );
  for (const item of items) {
    if (/^must match "(then|else)" schema$/.test(item.message ?? '')) continue;
    const error = { pointer: bodyPointer(item.path), detail: item.message ?? 'is invalid' };
    if (anyOfFields.has(error.pointer) && item.message !== 'must match a schema in anyOf') continue;
    const key = `${error.pointer}\u0000${error.detail}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push(error);
  }
  return errors;
}

/**
 * The ingest API's errors as problem+json without stack traces: validation errors from the OpenAPI
 * validator (body schema violations become 422 with every field by JSON pointer), body-parser
 * errors (malformed JSON 400, too large 413, bad encoding 415); HttpProblem from handlers and
 * anything else are rendered by the shared middleware.
 */
function describeIngestError(error: unknown): ProblemAnswer | undefined {
  const e = error as ValidatorError;
  const answer = (body: ProblemAnswer['problem'], reason: string): ProblemAnswer => ({ problem: body, reason });
  if (e.type === 'entity.parse.failed')
    return answer(problem(400, `The body is not valid JSON: ${e.message ?? ''}`.trim()), 'malformed_json');
  if (e.type === 'entity.too.large')
    return answer(problem(413, 'The request body is larger than the limit after decompression.'), 'too_large');
  if (e.type === 'encoding.unsupported')
    return answer(problem(415, e.message ?? 'Unsupported content encoding.'), 'unsupported_encoding');
  if (e.type === 'request.aborted') return answer(problem(400, 'The request was aborted by the client.'), 'aborted');
  if (typeof e.status === 'number' && Array.isArray(e.errors)) {
    const errors = fieldErrors(e.errors);
    const inBody = e.errors.some((item) => (item.path ?? '').replace(/^\./, '/').startsWith('/body'));
    if (e.status === 400 && inBody)
      return answer(problem(422, 'The request body does not match the schema.', { errors }), 'schema');
    if (e.status === 415)
      return answer(problem(415, 'Send application/json (optionally with Content-Encoding: gzip).'), 'content_type');
    if (e.status === 404 || e.status === 405) return answer(problem(e.status, e.message), 'route');
    return answer(
      problem(e.status, e.message ?? 'Invalid request.', errors.length > 0 ? { errors } : {}),
      'invalid_request',
    );
  }
  // The body parser's other refusals (a body that does not decompress, a bad charset) are the
  // client's: answer their status instead of a 500.
  if (e.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return answer(
      problem(e.status, `The request body could not be read: ${e.message ?? 'invalid body'}`),
      'unreadable_body',
    );
  }
  return undefined;
}

export function problemHandler(
  logger: Logger,
  onRejected?: (status: number, reason: string) => void,
): ErrorRequestHandler {
  return problemMiddleware({
    logger,
    describe: describeIngestError,
    internal: problem(500, 'An unexpected error occurred; it has been logged.'),
    ...(onRejected ? { onAnswer: onRejected } : {}),
    // The server already answered this connection (a client too slow with its body: 408) and
    // closed it; the body parser's "aborted" that follows is the same rejection.
    alreadyAnswered: answeredByServer,
  });
}
