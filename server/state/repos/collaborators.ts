import type { Db } from '../db';
import { SlipwayError } from '../../../common/errors';

export type AppRole = 'owner' | 'collaborator' | 'viewer';
export const APP_ROLES: readonly AppRole[] = ['owner', 'collaborator', 'viewer'];

export interface CollaboratorRow {
  appId: number;
  userId: number;
  email: string;
  role: AppRole;
  createdAt: string;
}

/** Per-app access: who may do what to an app. The owner row is written by apps.create. */
export function createCollaboratorsRepo(db: Db) {
  return {
    roleOf(appId: number, userId: number): AppRole | undefined {
      const r = db.prepare('SELECT role FROM collaborators WHERE app_id = ? AND user_id = ?').get(appId, userId) as
        { role: AppRole } | undefined;
      return r?.role;
    },
    list(appId: number): CollaboratorRow[] {
      const rows = db
        .prepare(
          `SELECT c.app_id, c.user_id, u.email, c.role, c.created_at FROM collaborators c JOIN users u ON u.id = c.user_id
           WHERE c.app_id = ? ORDER BY CASE c.role WHEN 'owner' THEN 0 WHEN 'collaborator' THEN 1 ELSE 2 END, u.email`,
        )
        .all(appId) as Array<{ app_id: number; user_id: number; email: string; role: AppRole; created_at: string }>;
      return rows.map((r) => ({
        appId: r.app_id,
        userId: r.user_id,
        email: r.email,
        role: r.role,
        createdAt: r.created_at,
      }));
    },
    /** Adds a user to an app or changes their role. Ownership moves only through transferOwner. */
    set(appId: number, userId: number, role: Exclude<AppRole, 'owner'>): void {
      if (!APP_ROLES.includes(role) || role === ('owner' as AppRole)) {
        throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(role)} is not a role you can grant`, {
          hint: 'use collaborator or viewer',
        });
      }
      const current = this.roleOf(appId, userId);
      if (current === 'owner') {
        throw new SlipwayError('CONFLICT', 'that user owns the app', {
          hint: 'an owner keeps every right; add someone else',
        });
      }
      db.prepare(
        'INSERT INTO collaborators (app_id, user_id, role) VALUES (?, ?, ?) ON CONFLICT (app_id, user_id) DO UPDATE SET role = excluded.role',
      ).run(appId, userId, role);
    },
    /** Removes a collaborator or viewer; returns false when the user had no access. Owners cannot be removed. */
    remove(appId: number, userId: number): boolean {
      if (this.roleOf(appId, userId) === 'owner') {
        throw new SlipwayError('CONFLICT', 'the owner cannot be removed from an app', {
          hint: 'destroy the app instead, or remove other users',
        });
      }
      return db.prepare('DELETE FROM collaborators WHERE app_id = ? AND user_id = ?').run(appId, userId).changes === 1;
    },
  };
}
export type CollaboratorsRepo = ReturnType<typeof createCollaboratorsRepo>;
