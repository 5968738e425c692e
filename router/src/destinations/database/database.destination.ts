import { ConfigurationError, errorMessage, outboundGuard, PermanentError } from '@muxly/common';
import { compileGetter, parsePath } from '@muxly/schemas';
import type { DestinationContext, DestinationInstance, SendResult } from '../destination.ts';
import { resolveConfig } from '../plugin-config.ts';
import { DatabaseDestinationConfig } from './config.ts';
import { mysqlWriter } from './mysql.writer.ts';
import { postgresWriter } from './postgres.writer.ts';
import { serverOf, shapeOf, type SqlServer, type SqlWriter } from './sql-writer.ts';

const writers = {
  postgres: postgresWriter,
  mysql: mysqlWriter,
} satisfies Record<SqlServer, (...args: Parameters<typeof postgresWriter>) => SqlWriter>;

/** Objects and arrays become JSON text: the drivers would otherwise turn arrays into SQL lists. */
function toColumnValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return value;
}

/** Creates a database destination (the descriptor in index.ts imports this module when one is created). */
export async function createDatabaseDestination(
  rawConfig: DatabaseDestinationConfig,
  context: DestinationContext,
): Promise<DestinationInstance> {
  const config = resolveConfig(DatabaseDestinationConfig, rawConfig, 'database');
  const server = serverOf(config.connectionString);
  // Checked on every load, not only when saved: a destination saved before the rule, or a
  // router configured apart from the control plane, must not write there either.
  const refusal = await context.forbiddenDatabases.refusal(config.connectionString);
  if (refusal) throw new ConfigurationError(`config.connectionString: ${refusal}`);
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
  const writer = writers[server](
    config,
    shapeOf(config),
    context.log.child({ destination: context.destinationId }),
    outboundGuard(context.outbound),
  );
  const rowsPerStatement = Math.max(1, Math.floor(writer.maxParameters / (mapped.length + 1)));
  const rowOf = (index: number, batch: Parameters<DestinationInstance['send']>[0]): unknown[] => {
    const item = batch[index]!;
    return [item.id, ...mapped.map(({ get }) => toColumnValue(get(item.event)))];
  };

  const instance: DestinationInstance = {
    async send(batch): Promise<SendResult | void> {
      // NOTE: one statement may not touch a row twice (PostgreSQL's DO UPDATE refuses it), so a
      // batch that carries an id more than once keeps its last occurrence; the earlier ones are
      // the same event.
      const latest = new Map<string, number>();
      batch.forEach((item, index) => latest.set(item.id, index));
      const unique = [...latest.values()].sort((a, b) => a - b);
      const failures: { index: number; error: Error }[] = [];
      for (let start = 0; start < unique.length; start += rowsPerStatement) {
        const indexes = unique.slice(start, start + rowsPerStatement);
        try {
          await writer.upsert(indexes.map((index) => rowOf(index, batch)));
        } catch (error) {
          const classified = writer.classify(error);
          if (!(classified instanceof PermanentError)) throw classified;
          if (indexes.length === 1) {
            failures.push({ index: indexes[0]!, error: classified });
            continue;
          }
          // A data error in a multi-row statement: find the rows at fault one by one so the
          // good rows are written and only the bad ones are dead-lettered.
          for (const index of indexes) {
            try {
              await writer.upsert([rowOf(index, batch)]);
            } catch (rowError) {
              const rowClassified = writer.classify(rowError);
              if (!(rowClassified instanceof PermanentError)) throw rowClassified;
              failures.push({ index, error: rowClassified });
            }
          }
        }
      }
      return failures.length > 0 ? { failures } : undefined;
    },
    healthcheck: () => writer.check(),
    close: () => writer.close(),
  };
  return instance;
}
