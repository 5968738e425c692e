import { ErrorCode } from '@slack/web-api';
import { ConfigurationError, PermanentError, RetryableError, ThrottledError } from '@muxly/common';
import { classifyMysqlError } from './database/mysql.writer.ts';
import { classifyPostgresError } from './database/postgres.writer.ts';
import { classifySmtpError } from './email/email.destination.ts';
import { classifyS3Error } from './s3/s3.destination.ts';
import { classifySlackError } from './slack/slack.destination.ts';

// Each destination maps its peer's wire errors into the shared classes at one place; one table
// of (peer error → expected class) per destination, run by one runner.

type ErrorClass = new (...args: never[]) => Error;
const s3 = (name: string, status?: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, $response: { headers } });

const table: [string, (error: unknown) => Error, unknown, ErrorClass, Partial<{ retryAfterMs: number }>?][] = [
  [
    'database: connection refused (no SQLSTATE)',
    classifyPostgresError,
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    RetryableError,
  ],
  [
    'database: admin shutdown 57P01',
    classifyPostgresError,
    Object.assign(new Error('terminating'), { code: '57P01' }),
    RetryableError,
  ],
  [
    'database: serialization failure 40001',
    classifyPostgresError,
    Object.assign(new Error('could not serialize'), { code: '40001' }),
    RetryableError,
  ],
  [
    'database: undefined table 42P01',
    classifyPostgresError,
    Object.assign(new Error('relation does not exist'), { code: '42P01' }),
    ConfigurationError,
  ],
  [
    'database: bad password 28P01',
    classifyPostgresError,
    Object.assign(new Error('password authentication failed'), { code: '28P01' }),
    ConfigurationError,
  ],
  [
    'database: value too long 22001',
    classifyPostgresError,
    Object.assign(new Error('value too long'), { code: '22001' }),
    PermanentError,
  ],
  [
    'database: not null violation 23502',
    classifyPostgresError,
    Object.assign(new Error('null value'), { code: '23502' }),
    PermanentError,
  ],
  [
    'mysql: connection refused (no server error number)',
    classifyMysqlError,
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', fatal: true }),
    RetryableError,
  ],
  [
    'mysql: access denied 1045',
    classifyMysqlError,
    Object.assign(new Error('Access denied for user'), { errno: 1045, sqlState: '28000', fatal: true }),
    ConfigurationError,
  ],
  [
    'mysql: insert denied 1142',
    classifyMysqlError,
    Object.assign(new Error('INSERT command denied'), { errno: 1142, sqlState: '42000' }),
    ConfigurationError,
  ],
  [
    'mysql: unknown table 1146',
    classifyMysqlError,
    Object.assign(new Error("Table 'x.nope' doesn't exist"), { errno: 1146, sqlState: '42S02' }),
    ConfigurationError,
  ],
  [
    'mysql: deadlock 1213',
    classifyMysqlError,
    Object.assign(new Error('Deadlock found'), { errno: 1213, sqlState: '40001' }),
    RetryableError,
  ],
  [
    'mysql: lock wait timeout 1205',
    classifyMysqlError,
    Object.assign(new Error('Lock wait timeout exceeded'), { errno: 1205, sqlState: 'HY000' }),
    RetryableError,
  ],
  [
    'mysql: data too long 1406',
    classifyMysqlError,
    Object.assign(new Error('Data too long'), { errno: 1406, sqlState: '22001' }),
    PermanentError,
  ],
  [
    'mysql: incorrect integer value 1366 (SQLSTATE HY000)',
    classifyMysqlError,
    Object.assign(new Error('Incorrect integer value'), { errno: 1366, sqlState: 'HY000' }),
    PermanentError,
  ],
  ['s3: no such bucket', classifyS3Error, s3('NoSuchBucket', 404), ConfigurationError],
  ['s3: access denied', classifyS3Error, s3('AccessDenied', 403), ConfigurationError],
  [
    's3: slow down with Retry-After',
    classifyS3Error,
    s3('SlowDown', 503, { 'retry-after': '4' }),
    ThrottledError,
    { retryAfterMs: 4000 },
  ],
  ['s3: internal error', classifyS3Error, s3('InternalError', 500), RetryableError],
  ['s3: network error (no status)', classifyS3Error, s3('TimeoutError'), RetryableError],
  ['s3: entity too large', classifyS3Error, s3('EntityTooLarge', 400), PermanentError],
  [
    'smtp: 451 try later',
    classifySmtpError,
    Object.assign(new Error('busy'), { code: 'EENVELOPE', responseCode: 451 }),
    RetryableError,
  ],
  [
    'smtp: 550 no such user',
    classifySmtpError,
    Object.assign(new Error('no user'), { code: 'EENVELOPE', responseCode: 550 }),
    PermanentError,
  ],
  [
    'smtp: 535 authentication',
    classifySmtpError,
    Object.assign(new Error('auth'), { code: 'EAUTH', responseCode: 535 }),
    ConfigurationError,
  ],
  [
    'smtp: connection refused',
    classifySmtpError,
    Object.assign(new Error('refused'), { code: 'ESOCKET' }),
    RetryableError,
  ],
  ['smtp: timeout', classifySmtpError, Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }), RetryableError],
  [
    'slack: rate limited',
    classifySlackError,
    { code: ErrorCode.RateLimitedError, retryAfter: 30 },
    ThrottledError,
    { retryAfterMs: 30_000 },
  ],
  [
    'slack: invalid_auth',
    classifySlackError,
    { code: ErrorCode.PlatformError, data: { ok: false, error: 'invalid_auth' } },
    ConfigurationError,
  ],
  [
    'slack: channel_not_found',
    classifySlackError,
    { code: ErrorCode.PlatformError, data: { ok: false, error: 'channel_not_found' } },
    ConfigurationError,
  ],
  [
    'slack: internal_error',
    classifySlackError,
    { code: ErrorCode.PlatformError, data: { ok: false, error: 'internal_error' } },
    RetryableError,
  ],
  [
    'slack: msg_too_long',
    classifySlackError,
    { code: ErrorCode.PlatformError, data: { ok: false, error: 'msg_too_long' } },
    PermanentError,
  ],
  ['slack: HTTP 502', classifySlackError, { code: ErrorCode.HTTPError, statusCode: 502 }, RetryableError],
  ['slack: HTTP 404', classifySlackError, { code: ErrorCode.HTTPError, statusCode: 404 }, PermanentError],
  [
    'slack: request error',
    classifySlackError,
    { code: ErrorCode.RequestError, message: 'socket hang up' },
    RetryableError,
  ],
];

// Every row gets all five columns: with fewer, jest would pass its `done` callback as the last one.
test.each(
  table.map(
    ([name, classify, peerError, expected, fields]) => [name, classify, peerError, expected, fields ?? {}] as const,
  ),
)('%s', (_name, classify, peerError, expected, fields) => {
  const error = classify(peerError);
  expect(error).toBeInstanceOf(expected);
  // A ThrottledError is a RetryableError; a plain retryable answer must not claim throttling.
  if (expected === RetryableError) expect(error).not.toBeInstanceOf(ThrottledError);
  expect(error).toMatchObject(fields);
});
