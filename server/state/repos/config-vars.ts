import type { Db } from '../db';
import type { Sealer } from '../crypto';
import { assertConfigKey } from '../../../common/names';

/** Config vars, encrypted at rest. Values are only ever decrypted for a reader with rights. */
export function createConfigVarsRepo(db: Db, sealer: Sealer) {
  return {
    all(appId: number): Record<string, string> {
      const rows = db
        .prepare('SELECT key, value_enc FROM config_vars WHERE app_id = ? ORDER BY key')
        .all(appId) as Array<{
        key: string;
        value_enc: Buffer;
      }>;
      return Object.fromEntries(rows.map((r) => [r.key, sealer.open(r.value_enc)]));
    },
    /** Sets and unsets in one transaction; returns the resulting full set. */
    /**
     * Sets and unsets in one transaction. check (optional) sees the app's vars as they would be
     * after the change, inside the transaction, and throws to refuse it (the per-app size cap:
     * two concurrent updates cannot both pass it).
     */
    update(
      appId: number,
      set: Record<string, string>,
      unset: string[] = [],
      check?: (after: Record<string, string>) => void,
    ): Record<string, string> {
      db.transaction(() => {
        if (check) {
          const after = { ...this.all(appId), ...set };
          for (const k of unset) delete after[k];
          check(after);
        }
        const put = db.prepare(
          'INSERT INTO config_vars (app_id, key, value_enc) VALUES (?, ?, ?) ON CONFLICT (app_id, key) DO UPDATE SET value_enc = excluded.value_enc',
        );
        for (const [k, v] of Object.entries(set)) put.run(appId, assertConfigKey(k), sealer.seal(String(v)));
        const del = db.prepare('DELETE FROM config_vars WHERE app_id = ? AND key = ?');
        for (const k of unset) del.run(appId, assertConfigKey(k));
      }).immediate();
      return this.all(appId);
    },
  };
}
export type ConfigVarsRepo = ReturnType<typeof createConfigVarsRepo>;
