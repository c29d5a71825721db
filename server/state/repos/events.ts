import type { Db } from '../db';

export interface EventRow {
  id: number;
  appName: string | null;
  actor: string;
  action: string;
  message: string;
  data: Record<string, unknown>;
  createdAt: string;
}

/** The audit trail: every change, who made it, when. Never holds secrets (config values are not logged). */
export function createEventsRepo(db: Db) {
  return {
    add(e: {
      appId?: number | null;
      appName?: string | null;
      actor: string;
      action: string;
      message: string;
      data?: Record<string, unknown>;
    }): EventRow {
      const info = db
        .prepare('INSERT INTO events (app_id, app_name, actor, action, message, data) VALUES (?, ?, ?, ?, ?, ?)')
        .run(e.appId ?? null, e.appName ?? null, e.actor, e.action, e.message, JSON.stringify(e.data ?? {}));
      return this.list({ afterId: Number(info.lastInsertRowid) - 1, limit: 1 })[0];
    },
    /**
     * Events, newest last. One app's are found by its id (appId), never by name: a new app that
     * reuses a destroyed app's name sees nothing of the old one.
     */
    list(opts: { appId?: number; afterId?: number; limit?: number } = {}): EventRow[] {
      const rows = db
        .prepare(
          `SELECT * FROM events WHERE (? IS NULL OR app_id = ?) AND id > ? ORDER BY id ${opts.afterId !== undefined ? 'ASC' : 'DESC'} LIMIT ?`,
        )
        .all(opts.appId ?? null, opts.appId ?? null, opts.afterId ?? 0, opts.limit ?? 100) as Array<
        Record<string, unknown>
      >;
      const events = rows.map((r) => ({
        id: r.id as number,
        appName: (r.app_name as string) ?? null,
        actor: r.actor as string,
        action: r.action as string,
        message: r.message as string,
        data: JSON.parse(r.data as string) as Record<string, unknown>,
        createdAt: r.created_at as string,
      }));
      return opts.afterId !== undefined ? events : events.reverse();
    },
  };
}
export type EventsRepo = ReturnType<typeof createEventsRepo>;
