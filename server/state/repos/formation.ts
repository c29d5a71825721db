import type { Db } from '../db';

/** Desired process formation per app: quantity and size per process type. */
export interface FormationRow {
  type: string;
  quantity: number;
  size: string;
}

export function createFormationRepo(db: Db) {
  return {
    list(appId: number): FormationRow[] {
      return db
        .prepare('SELECT process_type AS type, quantity, size FROM formation WHERE app_id = ? ORDER BY process_type')
        .all(appId) as FormationRow[];
    },
    get(appId: number, type: string): FormationRow | undefined {
      return db
        .prepare('SELECT process_type AS type, quantity, size FROM formation WHERE app_id = ? AND process_type = ?')
        .get(appId, type) as FormationRow | undefined;
    },
    /** Adds a row only when the type has none yet (seeding never overrides a user's scale). */
    seed(appId: number, type: string, quantity: number, size: string): void {
      db.prepare('INSERT OR IGNORE INTO formation (app_id, process_type, quantity, size) VALUES (?, ?, ?, ?)').run(
        appId,
        type,
        quantity,
        size,
      );
    },
    setQuantities(appId: number, changes: Record<string, number>, defaultSize: string): void {
      db.transaction(() => {
        const put = db.prepare(
          'INSERT INTO formation (app_id, process_type, quantity, size) VALUES (?, ?, ?, ?) ON CONFLICT (app_id, process_type) DO UPDATE SET quantity = excluded.quantity',
        );
        for (const [type, q] of Object.entries(changes)) put.run(appId, type, q, defaultSize);
      }).immediate();
    },
    /** Swarm placement constraints of a type (ps:placement); [] = any node. */
    placement(appId: number, type: string): string[] {
      const row = db
        .prepare('SELECT placement FROM formation WHERE app_id = ? AND process_type = ?')
        .get(appId, type) as { placement: string } | undefined;
      return row ? (JSON.parse(row.placement) as string[]) : [];
    },
    setPlacement(appId: number, type: string, constraints: string[]): void {
      db.prepare(
        'INSERT INTO formation (app_id, process_type, quantity, size, placement) VALUES (?, ?, 0, ?, ?) ON CONFLICT (app_id, process_type) DO UPDATE SET placement = excluded.placement',
      ).run(appId, type, 'standard-1x', JSON.stringify(constraints));
    },
    setSize(appId: number, type: string, size: string): void {
      db.prepare(
        'INSERT INTO formation (app_id, process_type, quantity, size) VALUES (?, ?, 0, ?) ON CONFLICT (app_id, process_type) DO UPDATE SET size = excluded.size',
      ).run(appId, type, size);
    },
  };
}
export type FormationRepo = ReturnType<typeof createFormationRepo>;
