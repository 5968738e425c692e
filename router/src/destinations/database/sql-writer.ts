import { ConfigurationError } from '@muxly/common';
import type { DatabaseDestinationConfig } from './config.ts';

// What differs between the SQL servers the database destination writes to. The destination
// itself (batching, duplicate ids in a batch, isolating a bad row) is the same for all of them.

/** The table and columns one destination writes, with identifiers already checked by the schema. */
export interface TableShape {
  /** The schema (PostgreSQL) or database (MySQL/MariaDB); undefined = the server's default. */
  schema: string | undefined;
  table: string;
  idColumn: string;
  /** The mapped columns, in the order of each row's values after the id. */
  columns: string[];
  onConflict: 'nothing' | 'update';
}

export interface SqlWriter {
  /** For messages: "PostgreSQL" or "MySQL/MariaDB". */
  readonly label: string;
  /** Most bind parameters one statement may carry. */
  readonly maxParameters: number;
  /** One multi-row upsert on the id column; each row is [id, ...mapped values]. */
  upsert(rows: unknown[][]): Promise<void>;
  /** Checks the connection, the table, every mapped column and the rights a delivery needs. */
  check(): Promise<void>;
  /** Maps the driver's error into the shared error classes. */
  classify(error: unknown): Error;
  close(): Promise<void>;
}

export type SqlServer = 'postgres' | 'mysql';

/** The connection string's scheme chooses the server: postgres(ql):// or mysql:// / mariadb://. */
export function serverOf(connectionString: string): SqlServer {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(connectionString)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  throw new ConfigurationError(
    'config.connectionString: the scheme must be postgres://, postgresql://, mysql:// or mariadb://',
  );
}

export const shapeOf = (config: DatabaseDestinationConfig): TableShape => ({
  schema: config.schema,
  table: config.table,
  idColumn: config.idColumn,
  columns: Object.keys(config.columns),
  onConflict: config.onConflict,
});
