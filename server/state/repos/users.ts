import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db';
import { SlipwayError } from '../../../common/errors';

export interface UserRow {
  id: number;
  email: string;
  isAdmin: boolean;
  createdAt: string;
  /** Set while an admin has disabled the account: its tokens, git access and log streams refuse. */
  disabledAt: string | null;
}

export interface TokenRow {
  id: number;
  userId: number;
  description: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Tokens are 32 random bytes behind a recognisable prefix; only their SHA-256 is stored. */
export const TOKEN_PREFIX = 'slw_';
export const hashToken = (secret: string) => createHash('sha256').update(secret).digest('hex');

const toUser = (r: {
  id: number;
  email: string;
  is_admin: number;
  created_at: string;
  disabled_at?: string | null;
}): UserRow => ({
  id: r.id,
  email: r.email,
  isAdmin: r.is_admin === 1,
  createdAt: r.created_at,
  disabledAt: r.disabled_at ?? null,
});

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export function createUsersRepo(db: Db) {
  return {
    create(email: string, isAdmin = false): UserRow {
      if (!EMAIL_RE.test(email)) {
        throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(email)} is not an email address`, {
          hint: 'users are named by email, like ana@example.com',
        });
      }
      // A deleted user's row stays while releases and builds name it; the email can be reused, and
      // the account comes back fresh (its tokens and app access went with the deletion).
      const gone = db.prepare(
        "UPDATE users SET deleted_at = NULL, disabled_at = NULL, is_admin = ?, created_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE email = ? AND deleted_at IS NOT NULL",
      );
      if (gone.run(isAdmin ? 1 : 0, email.toLowerCase()).changes === 1) return this.getByEmail(email)!;
      try {
        db.prepare('INSERT INTO users (email, is_admin) VALUES (?, ?)').run(email.toLowerCase(), isAdmin ? 1 : 0);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new SlipwayError('ALREADY_EXISTS', `user ${email} already exists`);
        }
        throw err;
      }
      return this.getByEmail(email)!;
    },
    getByEmail(email: string): UserRow | undefined {
      const r = db.prepare('SELECT * FROM users WHERE email = ? AND deleted_at IS NULL').get(email.toLowerCase()) as
        Parameters<typeof toUser>[0] | undefined;
      return r && toUser(r);
    },
    getById(id: number): UserRow | undefined {
      const r = db.prepare('SELECT * FROM users WHERE id = ? AND deleted_at IS NULL').get(id) as
        Parameters<typeof toUser>[0] | undefined;
      return r && toUser(r);
    },
    /** The email of any user ever created (deleted ones too): history keeps naming who did what. */
    emailOf(id: number): string | undefined {
      return (db.prepare('SELECT email FROM users WHERE id = ?').get(id) as { email: string } | undefined)?.email;
    },
    list(): UserRow[] {
      return (
        db.prepare('SELECT * FROM users WHERE deleted_at IS NULL ORDER BY email').all() as Array<
          Parameters<typeof toUser>[0]
        >
      ).map(toUser);
    },
    count(): number {
      return (db.prepare('SELECT count(*) AS n FROM users WHERE deleted_at IS NULL').get() as { n: number }).n;
    },
    /** Creates a token and returns its secret: the only time the secret exists outside the client. */
    createToken(userId: number, description = ''): { token: TokenRow; secret: string } {
      const secret = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const info = db
        .prepare('INSERT INTO tokens (user_id, description, hash, prefix) VALUES (?, ?, ?, ?)')
        .run(userId, description.slice(0, 200), hashToken(secret), secret.slice(0, TOKEN_PREFIX.length + 6));
      return { token: this.getToken(Number(info.lastInsertRowid))!, secret };
    },
    getToken(id: number): TokenRow | undefined {
      const r = db.prepare('SELECT * FROM tokens WHERE id = ?').get(id) as Record<string, unknown> | undefined;
      return r && toToken(r);
    },
    listTokens(userId: number): TokenRow[] {
      return (
        db.prepare('SELECT * FROM tokens WHERE user_id = ? ORDER BY id').all(userId) as Array<Record<string, unknown>>
      ).map(toToken);
    },
    revokeToken(userId: number, id: number): boolean {
      const info = db
        .prepare(
          "UPDATE tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .run(id, userId);
      return info.changes === 1;
    },
    /** Revokes every active token of a user; returns the ids revoked (their open sessions end too). */
    revokeAllTokens(userId: number): number[] {
      const ids = (
        db.prepare('SELECT id FROM tokens WHERE user_id = ? AND revoked_at IS NULL').all(userId) as Array<{
          id: number;
        }>
      ).map((r) => r.id);
      db.prepare(
        "UPDATE tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE user_id = ? AND revoked_at IS NULL",
      ).run(userId);
      return ids;
    },
    activeTokenIds(userId: number): number[] {
      return (
        db.prepare('SELECT id FROM tokens WHERE user_id = ? AND revoked_at IS NULL').all(userId) as Array<{
          id: number;
        }>
      ).map((r) => r.id);
    },
    setDisabled(userId: number, disabled: boolean): void {
      db.prepare(
        "UPDATE users SET disabled_at = CASE WHEN ? THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') ELSE NULL END WHERE id = ?",
      ).run(disabled ? 1 : 0, userId);
    },
    setAdmin(userId: number, admin: boolean): void {
      db.prepare('UPDATE users SET is_admin = ? WHERE id = ?').run(admin ? 1 : 0, userId);
    },
    /** Admins that can still log in: the last one may not be demoted, disabled or deleted. */
    countActiveAdmins(): number {
      return (
        db
          .prepare('SELECT count(*) AS n FROM users WHERE is_admin = 1 AND disabled_at IS NULL AND deleted_at IS NULL')
          .get() as { n: number }
      ).n;
    },
    /**
     * Deletes a user: tokens, app access and limits go; the row goes too unless releases or builds
     * still name it (history stays attributed), in which case it is kept as a deleted tombstone.
     */
    delete(userId: number): void {
      db.transaction(() => {
        db.prepare('DELETE FROM tokens WHERE user_id = ?').run(userId);
        db.prepare('DELETE FROM collaborators WHERE user_id = ?').run(userId);
        db.prepare('DELETE FROM limits WHERE user_id = ?').run(userId);
        const named = db
          .prepare(
            'SELECT (SELECT count(*) FROM releases WHERE user_id = ?) + (SELECT count(*) FROM builds WHERE user_id = ?) AS n',
          )
          .get(userId, userId) as { n: number };
        if (named.n === 0) db.prepare('DELETE FROM users WHERE id = ?').run(userId);
        else
          db.prepare(
            "UPDATE users SET deleted_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'), is_admin = 0 WHERE id = ?",
          ).run(userId);
      })();
    },
    /** The user a secret belongs to, or undefined when unknown, revoked, or the user is disabled or deleted. Constant-time by hash lookup. */
    authenticate(secret: string): { user: UserRow; tokenId: number } | undefined {
      if (typeof secret !== 'string' || !secret.startsWith(TOKEN_PREFIX) || secret.length > 200) return undefined;
      const r = db
        .prepare(
          'SELECT t.id AS token_id, t.last_used_at AS token_used_at, u.* FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ? AND t.revoked_at IS NULL AND u.disabled_at IS NULL AND u.deleted_at IS NULL',
        )
        .get(hashToken(secret)) as
        (Parameters<typeof toUser>[0] & { token_id: number; token_used_at: string | null }) | undefined;
      if (!r) return undefined;
      // last_used_at is informational: refresh it at most once a minute, so a read request is not a write.
      if (!r.token_used_at || Date.now() - Date.parse(r.token_used_at) > 60_000) {
        db.prepare("UPDATE tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?").run(
          r.token_id,
        );
      }
      return { user: toUser(r), tokenId: r.token_id };
    },
  };
}

function toToken(r: Record<string, unknown>): TokenRow {
  return {
    id: r.id as number,
    userId: r.user_id as number,
    description: r.description as string,
    prefix: r.prefix as string,
    createdAt: r.created_at as string,
    lastUsedAt: (r.last_used_at as string) ?? null,
    revokedAt: (r.revoked_at as string) ?? null,
  };
}
export type UsersRepo = ReturnType<typeof createUsersRepo>;
