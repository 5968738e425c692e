import { createInterface } from 'node:readline';
import { createLogger, errorMessage, loadSettings } from '@muxly/common';
import { migrate, openDatabase } from '../db/orm.ts';
import { createOrResetAdmin, syncRoles } from './first-admin.ts';

// `npm run -w control-plane users:create-admin -- <user name or email> [--reset]`: creates a
// local admin in controlPlane.database.url. The password is read from the terminal (not echoed)
// or, when stdin is not a terminal, from its first line (`... < password-file`), never from the
// command line, where other users of the machine could read it. --reset gives an existing user
// the password and the admin role back (a locked-out admin) and ends their sessions.

const USAGE =
  'usage: npm run -w control-plane users:create-admin -- <user name or email> [--reset]   (password from the terminal or stdin)';

const args = process.argv.slice(2);
const reset = args.includes('--reset');
const positional = args.filter((arg) => !arg.startsWith('--'));
if (positional.length !== 1 || args.some((arg) => arg.startsWith('--') && arg !== '--reset')) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(64);
}
const login = positional[0]!;

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) return line;
    return '';
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      process.stdout.write(prompt);
      let typed = '';
      process.stdin.setRawMode(true);
      process.stdin.resume();
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') {
            process.stdin.off('data', onData);
            process.stdin.setRawMode(false);
            process.stdin.pause();
            process.stdout.write('\n');
            return resolve(typed);
          }
          if (char === '\u0003') process.exit(130); // Ctrl-C
          typed = char === '\u007f' ? typed.slice(0, -1) : typed + char;
        }
      };
      process.stdin.on('data', onData);
    });
  const first = await ask(`Password for ${login}: `);
  if ((await ask('Again: ')) !== first) throw new Error('the two passwords differ');
  return first;
}

const settings = loadSettings();
const logger = createLogger({ service: 'control-plane-create-admin', level: settings.log.level });
try {
  const password = await readPassword();
  const orm = await openDatabase(settings.controlPlane.database, logger);
  try {
    if (settings.controlPlane.database.migrateOnStart) await migrate(orm);
    await syncRoles(orm);
    const { action, user } = await createOrResetAdmin(orm, { login, password, reset });
    logger.info(
      action === 'created' ? 'admin created' : 'admin reset: password set, admin role given, sessions ended',
      { userId: user.id, username: user.username },
    );
  } finally {
    await orm.close();
  }
} catch (error) {
  logger.error('cannot create the admin', { username: login, error: errorMessage(error) });
  process.exitCode = 1;
}
