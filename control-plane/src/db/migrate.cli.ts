import { parseArgs } from 'node:util';
import { createLogger, errorMessage, loadSettings } from '@muxly/common';
import { migrate, openDatabase, pendingMigrations } from './orm.ts';

// `npm run db:migrate -w control-plane`: applies pending migrations to controlPlane.database.url.
// Safe to run again: applied migrations are recorded in mikro_orm_migrations and skipped.
//
// `--wait SECONDS` applies nothing: it waits until the database has every migration this code
// knows (another process, e.g. the Kubernetes migration Job, applies them) and exits 0, or exits
// 1 after SECONDS. The control plane's init container uses it, so several replicas never race to
// migrate and none starts against an older schema.
const { values } = parseArgs({ options: { wait: { type: 'string' } } });
const settings = loadSettings();
const logger = createLogger({ service: 'control-plane-migrate', level: settings.log.level });

if (values.wait !== undefined) {
  const seconds = Number(values.wait);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    logger.error('--wait takes a number of seconds greater than 0', { wait: values.wait });
    process.exit(2);
  }
  process.exitCode = (await waitForSchema(seconds * 1000)) ? 0 : 1;
} else {
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
}

async function waitForSchema(timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const orm = await openDatabase(settings.controlPlane.database, logger);
      try {
        const pending = await pendingMigrations(orm);
        if (pending.length === 0) {
          logger.info('database schema is up to date');
          return true;
        }
        last = `waiting for migrations: ${pending.join(', ')}`;
      } finally {
        await orm.close();
      }
    } catch (error) {
      last = `database not reachable: ${errorMessage(error)}`;
    }
    logger.info(last);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  logger.error('the database schema did not become current in time', { timeoutMs, last });
  return false;
}
