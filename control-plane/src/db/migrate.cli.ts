import { createLogger, errorMessage, loadSettings } from '@muxly/common';
import { migrate, openDatabase } from './orm.ts';

// `npm run db:migrate -w control-plane`: applies pending migrations to controlPlane.database.url.
// Safe to run again: applied migrations are recorded in mikro_orm_migrations and skipped.
const settings = loadSettings();
const logger = createLogger({ service: 'control-plane-migrate', level: settings.log.level });
const orm = await openDatabase(settings.controlPlane.database, logger);
try {
  const applied = await migrate(orm);
  logger.info(applied.length > 0 ? 'migrations applied' : 'database schema is up to date', { applied });
} catch (error) {
  logger.error('migration failed', { error: errorMessage(error) });
  process.exitCode = 1;
} finally {
  await orm.close();
}
