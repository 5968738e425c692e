import pg from 'pg';
import { ConfigurationError, errorMessage, PermanentError, RefusedError, RetryableError } from '@muxly/common';
import { compileGetter, parsePath } from '@muxly/schemas';
import type { DeliveryItem, DestinationInstance, DestinationPlugin, SendResult } from '../destination.ts';
import { resolveConfig } from '../plugin-config.ts';
import { DatabaseDestinationConfig } from './config.ts';

// PostgreSQL allows at most 65535 bind parameters per statement.
const MAX_PARAMETERS = 60_000;

const quote = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`;

/** Objects and arrays become JSON text: pg would otherwise turn arrays into SQL arrays. */
function toColumnValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return value;
}

/**
 * SQLSTATE classes (PostgreSQL appendix A) mapped to what the router should do next:
 * connection problems, resource exhaustion, shutdowns and serialization conflicts pass with time;
 * syntax and undefined objects are the configuration's fault; data errors belong to the rows.
 */
export function classifyDatabaseError(error: unknown): Error {
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

export const databaseDestination: DestinationPlugin<DatabaseDestinationConfig> = {
  type: 'database',
  configSchema: DatabaseDestinationConfig,
  maxBatchSize: 1000,
  async create(rawConfig, context) {
    const config = resolveConfig(DatabaseDestinationConfig, rawConfig, 'database');
    const mapped = Object.entries(config.columns).map(([column, path]) => {
      if (column === config.idColumn)
        throw new ConfigurationError(
          `config.columns.${column}: the id column always receives the event id; do not map it`,
        );
      try {
        return { column, get: compileGetter(parsePath(path)) };
      } catch (error) {
        throw new ConfigurationError(`config.columns.${column}: ${errorMessage(error)}`);
      }
    });
    const table = `${quote(config.schema)}.${quote(config.table)}`;
    const columnList = [config.idColumn, ...mapped.map((entry) => entry.column)].map(quote).join(', ');
    const conflict =
      config.onConflict === 'update'
        ? `ON CONFLICT (${quote(config.idColumn)}) DO UPDATE SET ${mapped.map(({ column }) => `${quote(column)} = EXCLUDED.${quote(column)}`).join(', ')}`
        : `ON CONFLICT (${quote(config.idColumn)}) DO NOTHING`;
    const width = mapped.length + 1;
    const rowsPerStatement = Math.max(1, Math.floor(MAX_PARAMETERS / width));

    const pool = new pg.Pool({
      connectionString: config.connectionString,
      max: config.poolSize,
      statement_timeout: config.statementTimeoutMs,
      connectionTimeoutMillis: 10_000,
      ssl: config.ssl ? { rejectUnauthorized: true } : undefined,
    });
    // An idle client losing its connection emits on the pool; without a listener it would crash the process.
    pool.on('error', (error) =>
      context.log.warn('database destination: idle connection error', {
        destination: context.destinationId,
        error: error.message,
      }),
    );

    const insert = async (items: readonly DeliveryItem[]): Promise<void> => {
      const parameters: unknown[] = [];
      const tuples: string[] = [];
      for (const item of items) {
        const placeholders = [`$${parameters.push(item.id)}`];
        for (const { get } of mapped) placeholders.push(`$${parameters.push(toColumnValue(get(item.event)))}`);
        tuples.push(`(${placeholders.join(', ')})`);
      }
      await pool.query(`INSERT INTO ${table} (${columnList}) VALUES ${tuples.join(', ')} ${conflict}`, parameters);
    };

    const instance: DestinationInstance = {
      async send(batch): Promise<SendResult | void> {
        // NOTE: one statement may not touch a row twice (DO UPDATE refuses it), so a batch that
        // carries an id more than once keeps its last occurrence; the earlier ones are the same event.
        const latest = new Map<string, number>();
        batch.forEach((item, index) => latest.set(item.id, index));
        const unique = [...latest.values()].sort((a, b) => a - b);
        const failures: { index: number; error: Error }[] = [];
        for (let start = 0; start < unique.length; start += rowsPerStatement) {
          const indexes = unique.slice(start, start + rowsPerStatement);
          try {
            await insert(indexes.map((index) => batch[index]!));
          } catch (error) {
            const classified = classifyDatabaseError(error);
            if (!(classified instanceof PermanentError) || indexes.length === 1) {
              if (indexes.length === 1 && classified instanceof PermanentError) {
                failures.push({ index: indexes[0]!, error: classified });
                continue;
              }
              throw classified;
            }
            // A data error in a multi-row statement: find the rows at fault one by one so the
            // good rows are written and only the bad ones are dead-lettered.
            for (const index of indexes) {
              try {
                await insert([batch[index]!]);
              } catch (rowError) {
                const rowClassified = classifyDatabaseError(rowError);
                if (!(rowClassified instanceof PermanentError)) throw rowClassified;
                failures.push({ index, error: rowClassified });
              }
            }
          }
        }
        return failures.length > 0 ? { failures } : undefined;
      },
      async healthcheck() {
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
          throw classifyDatabaseError(error);
        }
        if (!rights?.can_insert)
          throw new RefusedError('permission', `PostgreSQL: the user may not INSERT into ${table} (grant it INSERT)`);
        if (config.onConflict === 'update' && !rights.can_update) {
          throw new RefusedError(
            'permission',
            `PostgreSQL: the user may not UPDATE ${table}, which onConflict: update needs (grant it UPDATE)`,
          );
        }
      },
      async close() {
        await pool.end();
      },
    };
    return instance;
  },
};
