import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '@muxly/common';
import type { ConsoleSsoProvider } from './keycloak.ts';
import type { LoginLockout } from './lockout.ts';
import type { Sessions } from './sessions.ts';
import type { LocalTokens } from './tokens.ts';

/** What the auth handlers share. */
export interface AuthContext {
  orm: MikroORM;
  logger: Logger;
  tokens: LocalTokens;
  sessions: Sessions;
  lockout: LoginLockout;
  /** Every permission a role or API key may hold. */
  catalogue: string[];
  apiKeyRefreshIntervalSeconds: number;
  /** The realm the console signs users in at, when one is configured for it. */
  sso: ConsoleSsoProvider | null;
}
