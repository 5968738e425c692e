import type { DestinationPlugin } from '../destination.ts';
import { urlEndpoint } from '../endpoint.ts';
import { DatabaseDestinationConfig } from './config.ts';
import { databaseExamples } from './examples.ts';

const SERVER_PORTS = { 'postgres:': 5432, 'postgresql:': 5432, 'mysql:': 3306, 'mariadb:': 3306 };

export const databaseDestination = {
  type: 'database',
  description:
    'Writes events into a PostgreSQL, MySQL or MariaDB table with multi-row upserts on the event id scoped by its source (a redelivery writes nothing twice).',
  configSchema: DatabaseDestinationConfig,
  secrets: ['connectionString'],
  healthCheckProves: {
    authenticate: { proves: 'the database server accepted the user' },
    permission: { proves: 'the user may INSERT into the table (and UPDATE it, for upserts)' },
    check: { proves: 'the table and every mapped column exist' },
  },
  endpoint: (config) => urlEndpoint(config.connectionString, 'connectionString', SERVER_PORTS),
  examples: databaseExamples,
  maxBatchSize: 1000,
  create: async (config, context) =>
    (await import('./database.destination.ts')).createDatabaseDestination(config, context),
} satisfies DestinationPlugin<DatabaseDestinationConfig>;
