// The small set of error classes that tell the caller what to do next (docs/development.md).
// Client code maps wire errors into these at one place; pipelines branch on the class only.

import type { AccessStep } from '@muxly/schemas';

/** Bad or missing configuration: stop the service (at start) or disable the object (at run time). */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[] = []) {
    super(problems.length > 0 ? `${message}:\n  - ${problems.join('\n  - ')}` : message);
    this.problems = problems;
  }
}

/** The step of a connection test that a refusal belongs to (docs/control-plane-api.md). */
export type RefusedStep = AccessStep;

/**
 * The peer answered and refused: the credentials (`authenticate`), the access to what the config
 * names (`permission`), or the request itself (`check`: unknown table, invalid query). A
 * configuration error like any other (its name stays ConfigurationError), which also tells a
 * connection test where the connection broke. Mappers raise it where the wire error says which.
 */
export class RefusedError extends ConfigurationError {
  readonly step: RefusedStep;
  constructor(step: RefusedStep, message: string) {
    super(message);
    this.step = step;
  }
}

/** The record can never be processed as it is: dead-letter it, do not retry. */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[] = []) {
    super(message);
    this.details = details;
  }
}

/** A transient failure: back off and try again, after `retryAfterMs` when the peer said so. */
export class RetryableError extends Error {
  override name = 'RetryableError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number | undefined; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The peer asked us to slow down (HTTP 429, quota exhausted): a retryable error with a wait. */
export class ThrottledError extends RetryableError {
  override name = 'ThrottledError';
}

/** Rejected by the peer for a reason that a retry cannot fix (4xx other than 408/429). */
export class PermanentError extends Error {
  override name = 'PermanentError';
  readonly status: number | undefined;
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.status = options.status;
  }
}

export const isRetryable = (error: unknown): error is RetryableError => error instanceof RetryableError;

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
