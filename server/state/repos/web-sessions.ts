import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db';
import type { UserRow } from './users';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface WebSession {
  tokenId: number;
  user: UserRow;
  csrf: string;
  expiresAt: number;
}

/**
 * Dashboard sign-in state: one-time login codes and browser sessions. Only SHA-256 hashes of the
 * secrets are stored. Both belong to the API token they were made with: a revoked token (or a
 * disabled or deleted user) ends them on the next request, exactly like the token itself.
 */
export function createWebSessionsRepo(db: Db) {
  const userOfToken = db.prepare(
    // The same conditions as a bearer token (users.authenticate): not revoked, user neither disabled nor deleted.
    'SELECT t.id AS token_id, u.id, u.email, u.is_admin, u.created_at FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ? AND t.revoked_at IS NULL AND u.disabled_at IS NULL AND u.deleted_at IS NULL',
  );
  function liveUser(tokenId: number): UserRow | undefined {
    const r = userOfToken.get(tokenId) as
      { id: number; email: string; is_admin: number; created_at: string } | undefined;
    return r && { id: r.id, email: r.email, isAdmin: r.is_admin === 1, createdAt: r.created_at, disabledAt: null };
  }
  return {
    /** A new one-time code for a token; the secret is returned once, only its hash is kept. */
    createCode(tokenId: number, ttlMs: number, now = Date.now()): { code: string; expiresAt: number } {
      const code = randomBytes(24).toString('base64url');
      db.prepare('DELETE FROM web_login_codes WHERE expires_at < ?').run(now);
      db.prepare('INSERT INTO web_login_codes (hash, token_id, expires_at) VALUES (?, ?, ?)').run(
        sha256(code),
        tokenId,
        now + ttlMs,
      );
      return { code, expiresAt: now + ttlMs };
    },
    /** Uses up a code: valid once, before it expires. Returns its token id. */
    consumeCode(code: string, now = Date.now()): number | undefined {
      if (typeof code !== 'string' || code.length > 100) return undefined;
      const r = db
        .prepare('DELETE FROM web_login_codes WHERE hash = ? RETURNING token_id, expires_at')
        .get(sha256(code)) as { token_id: number; expires_at: number } | undefined;
      if (!r || r.expires_at < now || !liveUser(r.token_id)) return undefined;
      return r.token_id;
    },
    create(tokenId: number, ttlMs: number, now = Date.now()): { secret: string; csrf: string; expiresAt: number } {
      const secret = randomBytes(32).toString('base64url');
      const csrf = randomBytes(24).toString('base64url');
      db.prepare('DELETE FROM web_sessions WHERE expires_at < ?').run(now);
      db.prepare(
        'INSERT INTO web_sessions (hash, token_id, csrf, created_at, seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(sha256(secret), tokenId, csrf, now, now, now + ttlMs);
      return { secret, csrf, expiresAt: now + ttlMs };
    },
    get(secret: string, now = Date.now()): WebSession | undefined {
      if (typeof secret !== 'string' || secret.length > 100) return undefined;
      const r = db
        .prepare('SELECT token_id, csrf, seen_at, expires_at FROM web_sessions WHERE hash = ?')
        .get(sha256(secret)) as { token_id: number; csrf: string; seen_at: number; expires_at: number } | undefined;
      if (!r || r.expires_at < now) return undefined;
      const user = liveUser(r.token_id);
      if (!user) return undefined;
      // seen_at is informational: written at most once a minute, so a read is not a write.
      if (now - r.seen_at > 60_000)
        db.prepare('UPDATE web_sessions SET seen_at = ? WHERE hash = ?').run(now, sha256(secret));
      return { tokenId: r.token_id, user, csrf: r.csrf, expiresAt: r.expires_at };
    },
    remove(secret: string): void {
      db.prepare('DELETE FROM web_sessions WHERE hash = ?').run(sha256(String(secret)));
    },
  };
}
export type WebSessionsRepo = ReturnType<typeof createWebSessionsRepo>;
