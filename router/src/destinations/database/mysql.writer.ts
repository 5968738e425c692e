import mysql from 'mysql2/promise';
import {
  blockedAddressIn,
  ConfigurationError,
  errorMessage,
  guardedSocket,
  PermanentError,
  RefusedError,
  RetryableError,
  type AddressGuard,
  type Logger,
} from '@muxly/common';
import type { DatabaseDestinationConfig } from './config.ts';
import type { SqlWriter, TableShape } from './sql-writer.ts';

// MySQL and MariaDB through mysql2 (pure JavaScript). The same promises as PostgreSQL: one
// multi-row upsert on the event id per batch, identifiers from the schema's safe pattern and quoted.

const MAX_PARAMETERS = 60_000;

const quote = (identifier: string): string => `\`${identifier.replaceAll('`', '``')}\``;

// Server error numbers (MySQL/MariaDB error reference) whose SQLSTATE does not say enough.
const AUTHENTICATION = new Set([1045, 1698]); // access denied for user, (using password)
const PERMISSION = new Set([1044, 1142, 1143, 1227]); // db, table, column access denied; needs privilege
const UNDEFINED = new Set([1049, 1146, 1054, 1064, 1103, 1102]); // unknown db/table/column, syntax, bad names
const BAD_VALUE = new Set([1048, 1062, 1264, 1265, 1292, 1366, 1406, 1452, 3140, 4025]); // the row's data
const TRANSIENT = new Set([1040, 1053, 1205, 1213, 1290, 2006, 2013]); // too many connections, shutdown, lock wait, deadlock, read-only, gone away

/**
 * mysql2 errors carry the server's `errno` and `sqlState`; network failures carry only a Node
 * `code` (ECONNREFUSED, PROTOCOL_CONNECTION_LOST) and pass with time like any connection problem.
 */
export function classifyMysqlError(error: unknown): Error {
  // The outbound address guard refused the peer's address: the configuration must change.
  const blocked = blockedAddressIn(error);
  if (blocked) return blocked;
  const { errno, sqlState } = error as { errno?: unknown; sqlState?: unknown };
  const message = `MySQL/MariaDB: ${errorMessage(error)}`;
  if (typeof errno !== 'number' || typeof sqlState !== 'string') return new RetryableError(message, { cause: error });
  if (TRANSIENT.has(errno) || sqlState.startsWith('08') || sqlState.startsWith('40'))
    return new RetryableError(message, { cause: error });
  if (AUTHENTICATION.has(errno) || sqlState === '28000')
    return new RefusedError('authenticate', `${message} (check the user and password of the connection string)`);
  if (PERMISSION.has(errno))
    return new RefusedError('permission', `${message} (grant the user the rights on the table)`);
  if (UNDEFINED.has(errno) || sqlState.startsWith('42'))
    return new RefusedError('check', `${message} (check the database, table and columns)`);
  if (BAD_VALUE.has(errno) || sqlState.startsWith('22') || sqlState.startsWith('23'))
    return new PermanentError(message, { cause: error });
  return new RetryableError(message, { cause: error });
}

const ISO_UTC = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)Z$/;

/**
 * NOTE: MySQL's DATETIME and TIMESTAMP refuse ISO 8601 with a `Z` (error 1292 in strict mode), and
 * event times are ISO UTC strings. They are written as `YYYY-MM-DD HH:MM:SS.fff`, and every
 * session runs in UTC so TIMESTAMP columns store the instant the event names.
 */
export const toMysqlValue = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  const match = ISO_UTC.exec(value);
  return match ? `${match[1]} ${match[2]}` : value;
};

function connectionOptions(connectionString: string) {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new ConfigurationError('config.connectionString: not a valid mysql:// URL');
  }
  const database = decodeURIComponent(url.pathname.slice(1));
  if (!url.hostname || !database)
    throw new ConfigurationError(
      'config.connectionString: mysql://user:password@host:3306/database names no host or database',
    );
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username) || undefined,
    password: decodeURIComponent(url.password) || undefined,
    database,
  };
}

export function mysqlWriter(
  config: DatabaseDestinationConfig,
  shape: TableShape,
  log: Logger,
  guard: AddressGuard,
): SqlWriter {
  const table = shape.schema ? `${quote(shape.schema)}.${quote(shape.table)}` : quote(shape.table);
  const columnList = [shape.idColumn, ...shape.columns].map(quote).join(', ');
  // NOTE: ON DUPLICATE KEY fires on any unique key of the table, not only the id column: give the
  // table no other unique key, or a row conflicting on it is kept (nothing) or overwritten (update).
  // `id = id` is MySQL's "do nothing" that, unlike INSERT IGNORE, still fails on bad data.
  const conflict =
    shape.onConflict === 'update'
      ? `ON DUPLICATE KEY UPDATE ${shape.columns.map((column) => `${quote(column)} = VALUES(${quote(column)})`).join(', ')}`
      : `ON DUPLICATE KEY UPDATE ${quote(shape.idColumn)} = ${quote(shape.idColumn)}`;
  const statement = (rows: number) =>
    `INSERT INTO ${table} (${columnList}) VALUES ${Array.from({ length: rows }, () => `(${[shape.idColumn, ...shape.columns].map(() => '?').join(', ')})`).join(', ')} ${conflict}`;

  const options = connectionOptions(config.connectionString);
  const pool = mysql.createPool({
    ...options,
    // Every connection goes through the outbound address guard, checked on the address connected
    // to (never a local socket path); TLS still verifies the host name of the connection string.
    stream: () => guardedSocket(guard).connect(options.port, options.host),
    connectionLimit: config.poolSize,
    connectTimeout: 10_000,
    ssl: config.ssl ? { rejectUnauthorized: true } : undefined,
    // Keep DATETIME values as text if this pool ever reads them; it never converts JS dates.
    dateStrings: true,
  });
  // NOTE: runs before any statement of a new connection (mysql2 queues a connection's commands in
  // order). Strict mode makes a value that does not fit an error instead of a silent truncation.
  pool.pool.on('connection', (connection) => {
    connection.query(
      "SET SESSION time_zone = '+00:00', sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, 'STRICT_ALL_TABLES')",
      (error: Error | null) => {
        if (error) log.warn('database destination: session setup failed', { error: error.message });
      },
    );
  });

  const run = (sql: string, values: unknown[]) => pool.query({ sql, values, timeout: config.statementTimeoutMs });

  return {
    label: 'MySQL/MariaDB',
    maxParameters: MAX_PARAMETERS,
    async upsert(rows) {
      await run(statement(rows.length), rows.flat().map(toMysqlValue));
    },
    async check() {
      try {
        // The connection, the table and every mapped column, without reading a row; then EXPLAIN
        // of the delivery's own statement, which the server refuses without INSERT (and UPDATE).
        await run(`SELECT ${columnList} FROM ${table} LIMIT 0`, []);
        await run(
          `EXPLAIN ${statement(1)}`,
          [shape.idColumn, ...shape.columns].map(() => null),
        );
      } catch (error) {
        throw classifyMysqlError(error);
      }
    },
    classify: classifyMysqlError,
    close: () => pool.end(),
  };
}
