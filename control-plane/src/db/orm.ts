import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from '@muxly/common';
import { migrationsList } from '../../../migrations/index.ts';
import { entities } from './entities.ts';

export interface DatabaseSettings {
  url: string;
  poolMax: number;
}

/** Opens the ORM on PostgreSQL; the schema comes only from the migrations, never from entity discovery. */
export async function openDatabase(settings: DatabaseSettings, logger: Logger): Promise<MikroORM> {
  const options: Options = {
    clientUrl: settings.url,
    entities,
    extensions: [Migrator],
    pool: { min: 0, max: settings.poolMax },
    migrations: {
      migrationsList,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      // The migrations are hand-written SQL files; no schema snapshot is written next to them.
      snapshot: false,
      snapshotOnMigrate: false,
      silent: true,
    },
    // Entities are used as plain objects; requests use forked entity managers explicitly.
    allowGlobalContext: false,
    debug: false,
    logger: (message) => logger.debug('orm', { detail: message }),
  };
  return MikroORM.init(options);
}

/** Applies pending migrations; returns the names applied (none when the schema is current). */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((migration) => migration.name);
}

/** The names of the migrations this code knows that the database has not applied yet. */
export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  const pending = await orm.migrator.getPending();
  return pending.map((migration) => migration.name);
}
