import winston from 'winston';
import { activeTraceIds } from './tracing.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Structured logger: one JSON object per line with stable keys (message, level, service, time). */
export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

// Keys whose values never reach a log line, whatever object they travel in.
const SECRET_KEY = /pass(word)?|secret|token|authorization|api[-_]?key|credential|private[-_]?key|cookie/i;

/** Replaces the values of secret-looking keys, recursively, so a stray object cannot leak them. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const result: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    result[key] =
      SECRET_KEY.test(key) && child !== undefined && child !== null ? '[redacted]' : redact(child, depth + 1);
  }
  return result;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(info[key]);
  }
  return info;
});

// A line written while a span is active names its trace, so logs and traces can be joined; a line
// that already names one (written for a record of another trace) keeps its own.
const traceFormat = winston.format((info) => {
  if (info.trace_id === undefined) {
    const ids = activeTraceIds();
    if (ids) Object.assign(info, ids);
  }
  return info;
});

export function createLogger(options: {
  service: string;
  level?: LogLevel;
  silent?: boolean;
  /** Where lines go instead of stdout (a file, or a test reading them back). */
  stream?: NodeJS.WritableStream;
}): Logger {
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    defaultMeta: { service: options.service },
    format: winston.format.combine(traceFormat(), redactFormat(), winston.format.timestamp(), winston.format.json()),
    // Logs go to stdout; the platform (systemd, docker, the npm start supervisor) collects them.
    transports: [
      options.stream ? new winston.transports.Stream({ stream: options.stream }) : new winston.transports.Console(),
    ],
  });
  return wrap(logger);
}

function wrap(logger: winston.Logger): Logger {
  return {
    error: (message, fields) => logger.error(message, fields),
    warn: (message, fields) => logger.warn(message, fields),
    info: (message, fields) => logger.info(message, fields),
    debug: (message, fields) => logger.debug(message, fields),
    child: (fields) => wrap(logger.child(fields)),
  };
}
