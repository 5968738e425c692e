import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@muxly/common';
import { newId } from '../resources/common.ts';
import { rows, type Sql } from './store.ts';

// Login sessions and their rotating refresh tokens. A refresh token is `<sessionId>.<secret>`;
// the database keeps only SHA-256 of the secret currently valid for the session. Every refresh
// replaces the secret. Presenting any other secret for a live session means an old token was
// replayed (stolen, or used twice): the whole session is revoked, so the thief's copy and the
// owner's copy both stop working and the owner has to sign in again.

const hashToken = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

interface SessionRow {
  id: string;
  user_id: string;
  refresh_token_hash: string;
  expires_at: Date;
  revoked_at: Date | null;
}

export interface IssuedSession {
  sessionId: string;
  userId: string;
  refreshToken: string;
  expiresAt: Date;
}

export type RefreshOutcome =
  { ok: true; session: IssuedSession } | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'reused' };

function parseToken(token: string): { sessionId: string; secret: string } | null {
  const match = /^(ses_[0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return match ? { sessionId: match[1]!, secret: match[2]! } : null;
}

export class Sessions {
  readonly #ttlSeconds: number;
  readonly #logger: Logger;

  constructor(ttlSeconds: number, logger: Logger) {
    this.#ttlSeconds = ttlSeconds;
    this.#logger = logger;
  }

  async create(em: Sql, userId: string, userAgent: string | undefined): Promise<IssuedSession> {
    const sessionId = newId('ses');
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.#ttlSeconds * 1000);
    await em.execute(
      `insert into sessions (id, user_id, refresh_token_hash, user_agent, expires_at) values (?, ?, ?, ?, ?)`,
      [sessionId, userId, hashToken(secret), userAgent?.slice(0, 300) ?? null, expiresAt],
    );
    return { sessionId, userId, refreshToken: `${sessionId}.${secret}`, expiresAt };
  }

  async refresh(em: Sql, token: string): Promise<RefreshOutcome> {
    const parsed = parseToken(token);
    if (!parsed) return { ok: false, reason: 'unknown' };
    const [session] = await rows<SessionRow>(
      em,
      `select id, user_id, refresh_token_hash, expires_at, revoked_at from sessions where id = ?`,
      [parsed.sessionId],
    );
    if (!session) return { ok: false, reason: 'unknown' };
    if (session.revoked_at) return { ok: false, reason: 'revoked' };
    if (session.expires_at.getTime() <= Date.now()) return { ok: false, reason: 'expired' };
    const presented = hashToken(parsed.secret);
    const secret = randomBytes(32).toString('base64url');
    // NOTE: the compare-and-set in the WHERE clause makes two concurrent refreshes with the same
    // token resolve to one winner; the loser is treated as a replay, as it would be sequentially.
    const updated =
      timingSafeEqual(Buffer.from(presented, 'hex'), Buffer.from(session.refresh_token_hash, 'hex')) &&
      (await rows<{ id: string }>(
        em,
        `update sessions set refresh_token_hash = ? where id = ? and refresh_token_hash = ? and revoked_at is null returning id`,
        [hashToken(secret), session.id, presented],
      ));
    if (!updated || updated.length === 0) {
      await this.revoke(em, session.id);
      this.#logger.warn('a refresh token was used twice: the session is revoked', {
        sessionId: session.id,
        userId: session.user_id,
      });
      return { ok: false, reason: 'reused' };
    }
    return {
      ok: true,
      session: {
        sessionId: session.id,
        userId: session.user_id,
        refreshToken: `${session.id}.${secret}`,
        expiresAt: session.expires_at,
      },
    };
  }

  async revoke(em: Sql, sessionId: string): Promise<void> {
    await em.execute(`update sessions set revoked_at = now() where id = ? and revoked_at is null`, [sessionId]);
  }

  /** Ends every session of a user (password change, disabling), except `keep` when given. */
  async revokeAllOf(em: Sql, userId: string, keep?: string): Promise<void> {
    await em.execute(`update sessions set revoked_at = now() where user_id = ? and revoked_at is null and id <> ?`, [
      userId,
      keep ?? '',
    ]);
  }

  async isActive(em: Sql, sessionId: string, userId: string): Promise<boolean> {
    const found = await rows<{ id: string }>(
      em,
      `select id from sessions where id = ? and user_id = ? and revoked_at is null and expires_at > now()`,
      [sessionId, userId],
    );
    return found.length > 0;
  }
}
