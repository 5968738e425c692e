import pg from 'pg';
import { createLogger } from '@muxly/common';
import { migrate, openDatabase } from '../src/db/orm.ts';
import { migrationsList } from '../../migrations/index.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

const logger = createLogger({ service: 'test', silent: true });

describe('migrations', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('apply on an empty database, then again as a no-op', async () => {
    const orm = await openDatabase({ url: database.url, poolMax: 2 }, logger);
    try {
      const applied = await migrate(orm);
      expect(applied).toEqual(migrationsList.map((migration) => migration.name));
      expect(applied.slice(0, 2)).toEqual(['Migration20261123000100_pipeline', 'Migration20261123000200_auth']);
      expect(await migrate(orm)).toEqual([]);
    } finally {
      await orm.close();
    }
    // A second process (a restart) finds nothing to do either.
    const again = await openDatabase({ url: database.url, poolMax: 2 }, logger);
    try {
      expect(await migrate(again)).toEqual([]);
    } finally {
      await again.close();
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      );
      expect(rows.map((row) => row.table_name)).toEqual(
        expect.arrayContaining([
          'connectors',
          'destinations',
          'routing_rules',
          'rule_transformations',
          'routes',
          'scheduler_jobs',
          'job_executions',
          'webhook_triggers',
          'users',
          'roles',
          'permissions',
          'sessions',
          'api_keys',
        ]),
      );
      // The free-form settings table was read by nothing and is dropped (docs/database.md).
      expect(rows.map((row) => row.table_name)).not.toContain('settings');
    } finally {
      await client.end();
    }
  });
});
