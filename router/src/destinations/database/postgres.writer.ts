import pg from 'pg';
import {
  blockedAddressIn,
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

// PostgreSQL allows at most 65535 bind parameters per statement.
const MAX_PARAMETERS = 60_000;

const quote = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`;

/**
 * SQLSTATE classes (PostgreSQL appendix A) mapped to what the router should do next:
 * connection problems, resource exhaustion, shutdowns and serialization conflicts pass with time;
 * syntax and undefined objects are the configuration's fault; data errors belong to the rows.
 */
export function classifyPostgresError(error: unknown): Error {
  // The outbound address guard refused the peer's address: the configuration must change.
  const blocked = blockedAddressIn(error);
  if (blocked) return blocked;
  const code = (error as { code?: unknown }).code;
  const message = `PostgreSQL: ${errorMessage(error)}`;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return new RetryableError(message, { cause: error });
  const sqlClass = code.slice(0, 2);
  if (['08', '53', '57', '58', '40', '55'].includes(sqlClass)) return new RetryableError(message, { cause: error });
  // 28: invalid authorization (wrong password, unknown role); 42501: insufficient privilege.
  if (sqlClass === '28')
    return new RefusedError('authenticate', `${message} (check the user and password of the connection string)`);
  if (code === '42501') return new RefusedError('permission', `${message} (grant the user the rights on the table)`);
  if (sqlClass === '42' || sqlClass === '3D' || sqlClass === '3F')
    return new RefusedError('check', `${message} (check the database, table and columns)`);
  if (sqlClass === '22' || sqlClass === '23') return new PermanentError(message, { cause: error });
  return new RetryableError(message, { cause: error });
}

export function postgresWriter(
  config: DatabaseDestinationConfig,
  shape: TableShape,
  log: Logger,
  guard: AddressGuard,
): SqlWriter {
  const table = `${quote(shape.schema ?? 'public')}.${quote(shape.table)}`;
  const columnList = [shape.idColumn, ...shape.columns].map(quote).join(', ');
  const conflict =
    shape.onConflict === 'update'
      ? `ON CONFLICT (${quote(shape.idColumn)}) DO UPDATE SET ${shape.columns.map((column) => `${quote(column)} = EXCLUDED.${quote(column)}`).join(', ')}`
      : `ON CONFLICT (${quote(shape.idColumn)}) DO NOTHING`;

  const pool = new pg.Pool({
    connectionString: config.connectionString,
    max: config.poolSize,
    statement_timeout: config.statementTimeoutMs,
    connectionTimeoutMillis: 10_000,
    ssl: config.ssl ? { rejectUnauthorized: true } : undefined,
    // Every connection goes through the outbound address guard, checked on the address connected
    // to; TLS still verifies the host name of the connection string.
    stream: () => guardedSocket(guard),
  });
  // An idle client losing its connection emits on the pool; without a listener it would crash the process.
  pool.on('error', (error) => log.warn('database destination: idle connection error', { error: error.message }));

  return {
    label: 'PostgreSQL',
    maxParameters: MAX_PARAMETERS,
    async upsert(rows) {
      const parameters: unknown[] = [];
      const tuples = rows.map((row) => `(${row.map((value) => `$${parameters.push(value)}`).join(', ')})`);
      await pool.query(`INSERT INTO ${table} (${columnList}) VALUES ${tuples.join(', ')} ${conflict}`, parameters);
    },
    async check() {
      let rights: { can_insert: boolean; can_update: boolean } | undefined;
      try {
        // Checks the connection, the table and every mapped column without reading a row, then
        // the rights a delivery needs (an upsert also updates).
        await pool.query(`SELECT ${columnList} FROM ${table} LIMIT 0`);
        const answer = await pool.query<{ can_insert: boolean; can_update: boolean }>(
          "SELECT has_table_privilege($1, 'INSERT') AS can_insert, has_table_privilege($1, 'UPDATE') AS can_update",
          [table],
        );
        rights = answer.rows[0];
      } catch (error) {
        throw classifyPostgresError(error);
      }
      if (!rights?.can_insert)
        throw new RefusedError('permission', `PostgreSQL: the user may not INSERT into ${table} (grant it INSERT)`);
      if (shape.onConflict === 'update' && !rights.can_update) {
        throw new RefusedError(
          'permission',
          `PostgreSQL: the user may not UPDATE ${table}, which onConflict: update needs (grant it UPDATE)`,
        );
      }
    },
    classify: classifyPostgresError,
    close: () => pool.end(),
  };
}
