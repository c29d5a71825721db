import type { Db } from '../db';
import type { Sealer } from '../crypto';
import { SlipwayError } from '../../../common/errors';

/**
 * Add-on services (PostgreSQL, Redis), their attachments to apps and their backups. Credentials
 * are sealed like config values and only opened by the add-on service (server/addons/).
 */
export type AddonKind = 'postgres' | 'redis';

/** Credentials of a service. postgres: login role in use (app_a or app_b) and its password. */
export interface AddonSecret {
  user: string;
  password: string;
}

export interface AddonRow {
  id: number;
  name: string;
  kind: AddonKind;
  ownerId: number;
  ownerEmail: string;
  plan: string;
  version: string;
  image: string;
  /** Daily backup time (UTC HH:MM) or null. */
  backupAt: string | null;
  createdAt: string;
}

export interface AttachmentRow {
  addonId: number;
  addonName: string;
  appId: number;
  appName: string;
  /** Config var prefix: DATABASE gives DATABASE_URL. */
  name: string;
  createdAt: string;
}

export interface BackupRow {
  id: number;
  addonId: number | null;
  addonName: string;
  ownerId: number;
  kind: AddonKind;
  file: string;
  size: number;
  status: 'running' | 'succeeded' | 'failed';
  error: string | null;
  scheduled: boolean;
  createdAt: string;
  finishedAt: string | null;
}

interface RawAddon {
  id: number;
  name: string;
  kind: AddonKind;
  owner_id: number;
  owner_email: string;
  plan: string;
  version: string;
  image: string;
  backup_at: string | null;
  created_at: string;
}

const SELECT =
  'SELECT a.id, a.name, a.kind, a.owner_id, u.email AS owner_email, a.plan, a.version, a.image, a.backup_at, a.created_at FROM addons a JOIN users u ON u.id = a.owner_id';
const toAddon = (r: RawAddon): AddonRow => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  ownerId: r.owner_id,
  ownerEmail: r.owner_email,
  plan: r.plan,
  version: r.version,
  image: r.image,
  backupAt: r.backup_at,
  createdAt: r.created_at,
});
const ATTACH =
  'SELECT t.addon_id, s.name AS addon_name, t.app_id, p.name AS app_name, t.name, t.created_at FROM addon_attachments t JOIN addons s ON s.id = t.addon_id JOIN apps p ON p.id = t.app_id';
const toAttachment = (r: Record<string, unknown>): AttachmentRow => ({
  addonId: r.addon_id as number,
  addonName: r.addon_name as string,
  appId: r.app_id as number,
  appName: r.app_name as string,
  name: r.name as string,
  createdAt: r.created_at as string,
});
const toBackup = (r: Record<string, unknown>): BackupRow => ({
  id: r.id as number,
  addonId: (r.addon_id as number | null) ?? null,
  addonName: r.addon_name as string,
  ownerId: r.owner_id as number,
  kind: r.kind as AddonKind,
  file: r.file as string,
  size: r.size as number,
  status: r.status as BackupRow['status'],
  error: (r.error as string | null) ?? null,
  scheduled: r.scheduled === 1,
  createdAt: r.created_at as string,
  finishedAt: (r.finished_at as string | null) ?? null,
});

export function createAddonsRepo(db: Db, sealer: Sealer) {
  return {
    create(input: {
      name: string;
      kind: AddonKind;
      ownerId: number;
      plan: string;
      version: string;
      image: string;
      secret: AddonSecret;
    }): AddonRow {
      try {
        db.prepare(
          'INSERT INTO addons (name, kind, owner_id, plan, version, image, secret_enc) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ).run(
          input.name,
          input.kind,
          input.ownerId,
          input.plan,
          input.version,
          input.image,
          sealer.seal(JSON.stringify(input.secret)),
        );
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new SlipwayError('ALREADY_EXISTS', `an add-on named ${input.name} already exists`, {
            hint: 'choose another name with --name, or see: slipway addons',
          });
        }
        throw err;
      }
      return this.get(input.name)!;
    },
    get(name: string): AddonRow | undefined {
      const r = db.prepare(`${SELECT} WHERE a.name = ?`).get(name) as RawAddon | undefined;
      return r && toAddon(r);
    },
    list(): AddonRow[] {
      return (db.prepare(`${SELECT} ORDER BY a.name`).all() as RawAddon[]).map(toAddon);
    },
    secret(id: number): AddonSecret {
      const r = db.prepare('SELECT secret_enc FROM addons WHERE id = ?').get(id) as { secret_enc: Buffer };
      return JSON.parse(sealer.open(r.secret_enc)) as AddonSecret;
    },
    setSecret(id: number, secret: AddonSecret): void {
      db.prepare('UPDATE addons SET secret_enc = ? WHERE id = ?').run(sealer.seal(JSON.stringify(secret)), id);
    },
    setBackupAt(id: number, at: string | null): void {
      db.prepare('UPDATE addons SET backup_at = ? WHERE id = ?').run(at, id);
    },
    delete(id: number): void {
      db.prepare('DELETE FROM addons WHERE id = ?').run(id);
    },

    attach(addonId: number, appId: number, name: string): void {
      try {
        db.prepare('INSERT INTO addon_attachments (addon_id, app_id, name) VALUES (?, ?, ?)').run(addonId, appId, name);
      } catch (err) {
        if (
          (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' ||
          (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
        ) {
          throw new SlipwayError(
            'ALREADY_EXISTS',
            `the app already has an add-on attached as ${name}, or this add-on is already attached to it`,
            {
              hint: 'attach under another name with --as NAME (the app then gets NAME_URL), or detach the other one first',
            },
          );
        }
        throw err;
      }
    },
    detach(addonId: number, appId: number): void {
      db.prepare('DELETE FROM addon_attachments WHERE addon_id = ? AND app_id = ?').run(addonId, appId);
    },
    attachmentsOf(addonId: number): AttachmentRow[] {
      return (
        db.prepare(`${ATTACH} WHERE t.addon_id = ? ORDER BY p.name`).all(addonId) as Record<string, unknown>[]
      ).map(toAttachment);
    },
    attachmentsOfApp(appId: number): AttachmentRow[] {
      return (db.prepare(`${ATTACH} WHERE t.app_id = ? ORDER BY t.name`).all(appId) as Record<string, unknown>[]).map(
        toAttachment,
      );
    },

    addBackup(input: {
      addonId: number;
      addonName: string;
      ownerId: number;
      kind: AddonKind;
      file: string;
      scheduled: boolean;
    }): BackupRow {
      const info = db
        .prepare(
          "INSERT INTO addon_backups (addon_id, addon_name, owner_id, kind, file, status, scheduled) VALUES (?, ?, ?, ?, ?, 'running', ?)",
        )
        .run(input.addonId, input.addonName, input.ownerId, input.kind, input.file, input.scheduled ? 1 : 0);
      return this.backup(Number(info.lastInsertRowid))!;
    },
    setBackupFile(id: number, file: string): void {
      db.prepare('UPDATE addon_backups SET file = ? WHERE id = ?').run(file, id);
    },
    finishBackup(id: number, result: { status: 'succeeded' | 'failed'; size?: number; error?: string }): void {
      db.prepare(
        "UPDATE addon_backups SET status = ?, size = ?, error = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?",
      ).run(result.status, result.size ?? 0, result.error ?? null, id);
    },
    backup(id: number): BackupRow | undefined {
      const r = db.prepare('SELECT * FROM addon_backups WHERE id = ?').get(id) as Record<string, unknown> | undefined;
      return r && toBackup(r);
    },
    backupsOf(addonName: string): BackupRow[] {
      return (
        db.prepare('SELECT * FROM addon_backups WHERE addon_name = ? ORDER BY id DESC').all(addonName) as Record<
          string,
          unknown
        >[]
      ).map(toBackup);
    },
    deleteBackup(id: number): void {
      db.prepare('DELETE FROM addon_backups WHERE id = ?').run(id);
    },
    /** The last scheduled backup's creation time of a service (for the daily schedule). */
    lastScheduled(addonId: number): string | undefined {
      const r = db
        .prepare('SELECT created_at FROM addon_backups WHERE addon_id = ? AND scheduled = 1 ORDER BY id DESC LIMIT 1')
        .get(addonId) as { created_at: string } | undefined;
      return r?.created_at;
    },
  };
}
export type AddonsRepo = ReturnType<typeof createAddonsRepo>;
