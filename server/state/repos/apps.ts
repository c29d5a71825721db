import type { Db } from '../db';
import { SlipwayError } from '../../../common/errors';
import { assertAppName } from '../../../common/names';

export interface AppRow {
  id: number;
  name: string;
  ownerId: number;
  stack: string;
  deployBranch: string | null;
  maintenance: boolean;
  /** The router redirects plain HTTP to HTTPS (308) for this app's hosts. */
  httpsOnly: boolean;
  /** The router adds Strict-Transport-Security to this app's HTTPS responses. */
  hsts: boolean;
  /** Custom domains get certificates from the ACME CA (when the platform has ACME configured). */
  acmeAuto: boolean;
  buildpacks: string[];
  buildLimits: Record<string, number>;
  /** How the app builds (builder:set, dockerfile-path, build args): docs/dockerfile.md. */
  buildSettings: BuildSettings;
  /** Seconds a new web dyno has to answer (ps:boot-timeout); null: app.json or the platform default. */
  bootTimeoutS: number | null;
  currentReleaseId: number | null;
  createdAt: string;
}

export interface BuildSettings {
  /** Forced builder; absent: detected (a root Dockerfile wins unless buildpacks are asked for). */
  builder?: 'buildpacks' | 'dockerfile';
  /** Dockerfile path relative to the source root (default: Dockerfile). */
  dockerfilePath?: string;
  /** Config vars passed to Dockerfile builds as build args (only those the Dockerfile declares). */
  buildArgs?: string[];
}

interface RawApp {
  id: number;
  name: string;
  owner_id: number;
  stack: string;
  deploy_branch: string | null;
  maintenance: number;
  https_only: number;
  hsts: number;
  acme_auto: number;
  buildpacks: string;
  build_limits: string;
  build_settings: string;
  boot_timeout_s: number | null;
  current_release_id: number | null;
  created_at: string;
}

const toApp = (r: RawApp): AppRow => ({
  id: r.id,
  name: r.name,
  ownerId: r.owner_id,
  stack: r.stack,
  deployBranch: r.deploy_branch,
  maintenance: r.maintenance === 1,
  httpsOnly: r.https_only === 1,
  hsts: r.hsts === 1,
  acmeAuto: r.acme_auto === 1,
  buildpacks: JSON.parse(r.buildpacks) as string[],
  buildLimits: JSON.parse(r.build_limits) as Record<string, number>,
  buildSettings: JSON.parse(r.build_settings || '{}') as BuildSettings,
  bootTimeoutS: r.boot_timeout_s ?? null,
  currentReleaseId: r.current_release_id,
  createdAt: r.created_at,
});

export function createAppsRepo(db: Db) {
  const byName = db.prepare('SELECT * FROM apps WHERE name = ?');
  return {
    create(input: { name: string; ownerId: number; stack: string }): AppRow {
      const name = assertAppName(input.name);
      try {
        const info = db
          .prepare('INSERT INTO apps (name, owner_id, stack) VALUES (?, ?, ?)')
          .run(name, input.ownerId, input.stack);
        db.prepare("INSERT INTO collaborators (app_id, user_id, role) VALUES (?, ?, 'owner')").run(
          info.lastInsertRowid,
          input.ownerId,
        );
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new SlipwayError('ALREADY_EXISTS', `app "${name}" already exists`, {
            hint: 'choose another name, or omit it for a random one',
          });
        }
        throw err;
      }
      return this.get(name)!;
    },
    get(name: string): AppRow | undefined {
      const r = byName.get(name) as RawApp | undefined;
      return r && toApp(r);
    },
    /** Like get, but a missing app is a NOT_FOUND error with the hint users need. */
    require(name: string): AppRow {
      const app = this.get(assertAppName(name));
      if (!app)
        throw new SlipwayError('NOT_FOUND', `app "${name}" does not exist`, {
          hint: `create it with: slipway apps:create ${name}`,
        });
      return app;
    },
    getById(id: number): AppRow | undefined {
      const r = db.prepare('SELECT * FROM apps WHERE id = ?').get(id) as RawApp | undefined;
      return r && toApp(r);
    },
    list(): AppRow[] {
      return (db.prepare('SELECT * FROM apps ORDER BY name').all() as RawApp[]).map(toApp);
    },
    listForUser(userId: number): AppRow[] {
      return (
        db
          .prepare('SELECT a.* FROM apps a JOIN collaborators c ON c.app_id = a.id WHERE c.user_id = ? ORDER BY a.name')
          .all(userId) as RawApp[]
      ).map(toApp);
    },
    /** Apps a user owns (the apps limit counts these). */
    countOwnedBy(userId: number): number {
      return (db.prepare('SELECT count(*) AS n FROM apps WHERE owner_id = ?').get(userId) as { n: number }).n;
    },
    listOwnedBy(userId: number): string[] {
      return (
        db.prepare('SELECT name FROM apps WHERE owner_id = ? ORDER BY name').all(userId) as Array<{ name: string }>
      ).map((r) => r.name);
    },
    setMaintenance(id: number, on: boolean): void {
      db.prepare('UPDATE apps SET maintenance = ? WHERE id = ?').run(on ? 1 : 0, id);
    },
    setHttpsOnly(id: number, on: boolean): void {
      db.prepare('UPDATE apps SET https_only = ? WHERE id = ?').run(on ? 1 : 0, id);
    },
    setHsts(id: number, on: boolean): void {
      db.prepare('UPDATE apps SET hsts = ? WHERE id = ?').run(on ? 1 : 0, id);
    },
    setAcmeAuto(id: number, on: boolean): void {
      db.prepare('UPDATE apps SET acme_auto = ? WHERE id = ?').run(on ? 1 : 0, id);
    },
    setStack(id: number, stack: string): void {
      db.prepare('UPDATE apps SET stack = ? WHERE id = ?').run(stack, id);
    },
    setBuildpacks(id: number, buildpacks: string[]): void {
      db.prepare('UPDATE apps SET buildpacks = ? WHERE id = ?').run(JSON.stringify(buildpacks), id);
    },
    setDeployBranch(id: number, branch: string | null): void {
      db.prepare('UPDATE apps SET deploy_branch = ? WHERE id = ?').run(branch, id);
    },
    setBuildLimits(id: number, limits: Record<string, number>): void {
      db.prepare('UPDATE apps SET build_limits = ? WHERE id = ?').run(JSON.stringify(limits), id);
    },
    setBuildSettings(id: number, settings: BuildSettings): void {
      db.prepare('UPDATE apps SET build_settings = ? WHERE id = ?').run(JSON.stringify(settings), id);
    },
    setBootTimeout(id: number, seconds: number | null): void {
      db.prepare('UPDATE apps SET boot_timeout_s = ? WHERE id = ?').run(seconds, id);
    },
    setCurrentRelease(id: number, releaseId: number): void {
      db.prepare('UPDATE apps SET current_release_id = ? WHERE id = ?').run(releaseId, id);
    },
    delete(id: number): void {
      db.prepare('DELETE FROM apps WHERE id = ?').run(id);
    },
  };
}
export type AppsRepo = ReturnType<typeof createAppsRepo>;
