import type { Db } from '../db';
import { isLimitKey, type LimitKey } from '../../../common/limits';

/** Per-user limit overrides set by admins; a key without a row uses the platform default. */
export function createLimitsRepo(db: Db) {
  return {
    overrides(userId: number): Partial<Record<LimitKey, number>> {
      const rows = db.prepare('SELECT key, value FROM limits WHERE user_id = ?').all(userId) as Array<{
        key: string;
        value: number;
      }>;
      const out: Partial<Record<LimitKey, number>> = {};
      for (const r of rows) if (isLimitKey(r.key)) out[r.key] = r.value;
      return out;
    },
    /** Sets (number) or resets to the default (null) several keys in one transaction. */
    set(userId: number, values: Partial<Record<LimitKey, number | null>>): void {
      const put = db.prepare(
        'INSERT INTO limits (user_id, key, value) VALUES (?, ?, ?) ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value',
      );
      const del = db.prepare('DELETE FROM limits WHERE user_id = ? AND key = ?');
      db.transaction(() => {
        for (const [k, v] of Object.entries(values)) {
          if (v === null || v === undefined) del.run(userId, k);
          else put.run(userId, k, v);
        }
      })();
    },
  };
}
export type LimitsRepo = ReturnType<typeof createLimitsRepo>;
