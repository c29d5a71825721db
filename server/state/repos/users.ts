import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db';
import { SlipwayError } from '../../../common/errors';

export interface UserRow {
  id: number;
  email: string;
  isAdmin: boolean;
  createdAt: string;
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

const toUser = (r: { id: number; email: string; is_admin: number; created_at: string }): UserRow => ({
  id: r.id,
  email: r.email,
  isAdmin: r.is_admin === 1,
  createdAt: r.created_at,
});

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export function createUsersRepo(db: Db) {
  return {
    create(email: string, isAdmin = false): UserRow {
      if (!EMAIL_RE.test(email)) {
        throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(email)} is not an email address`, { hint: 'users are named by email, like ana@example.com' });
      }
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
      const r = db.prepare('SELECT * FROM users WHERE email = ?').get(email.toLowerCase()) as Parameters<typeof toUser>[0] | undefined;
      return r && toUser(r);
    },
    getById(id: number): UserRow | undefined {
      const r = db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Parameters<typeof toUser>[0] | undefined;
      return r && toUser(r);
    },
    list(): UserRow[] {
      return (db.prepare('SELECT * FROM users ORDER BY email').all() as Array<Parameters<typeof toUser>[0]>).map(toUser);
    },
    count(): number {
      return (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
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
      return (db.prepare('SELECT * FROM tokens WHERE user_id = ? ORDER BY id').all(userId) as Array<Record<string, unknown>>).map(toToken);
    },
    revokeToken(userId: number, id: number): boolean {
      const info = db
        .prepare("UPDATE tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND user_id = ? AND revoked_at IS NULL")
        .run(id, userId);
      return info.changes === 1;
    },
    /** The user a secret belongs to, or undefined when unknown or revoked. Constant-time by hash lookup. */
    authenticate(secret: string): { user: UserRow; tokenId: number } | undefined {
      if (typeof secret !== 'string' || !secret.startsWith(TOKEN_PREFIX) || secret.length > 200) return undefined;
      const r = db
        .prepare('SELECT t.id AS token_id, t.last_used_at AS token_used_at, u.* FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ? AND t.revoked_at IS NULL')
        .get(hashToken(secret)) as (Parameters<typeof toUser>[0] & { token_id: number; token_used_at: string | null }) | undefined;
      if (!r) return undefined;
      // last_used_at is informational: refresh it at most once a minute, so a read request is not a write.
      if (!r.token_used_at || Date.now() - Date.parse(r.token_used_at) > 60_000) {
        db.prepare("UPDATE tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?").run(r.token_id);
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
