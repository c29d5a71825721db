import type { Db } from '../db';

export type BuildStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface BuildRow {
  id: string;
  appId: number;
  appName: string;
  status: BuildStatus;
  sourceVersion: string | null;
  /** The commit's subject line (from the push), when known. */
  sourceSubject: string | null;
  userId: number | null;
  userEmail: string | null;
  buildpacks: Array<{ id: string; version: string }>;
  /** Which source chose the buildpacks (null before the build selected them). */
  buildpacksFrom: string | null;
  imageDigest: string | null;
  phaseTimings: Record<string, number>;
  error: string | null;
  logPath: string | null;
  releaseVersion: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

function toBuild(r: Record<string, unknown>): BuildRow {
  return {
    id: r.id as string,
    appId: r.app_id as number,
    appName: r.app_name as string,
    status: r.status as BuildStatus,
    sourceVersion: (r.source_version as string) ?? null,
    sourceSubject: (r.source_subject as string) ?? null,
    userId: (r.user_id as number) ?? null,
    userEmail: (r.user_email as string) ?? null,
    buildpacks: JSON.parse(r.buildpacks as string) as BuildRow['buildpacks'],
    buildpacksFrom: (r.buildpacks_from as string) ?? null,
    imageDigest: (r.image_digest as string) ?? null,
    phaseTimings: JSON.parse(r.phase_timings as string) as Record<string, number>,
    error: (r.error as string) ?? null,
    logPath: (r.log_path as string) ?? null,
    releaseVersion: (r.release_version as number) ?? null,
    createdAt: r.created_at as string,
    startedAt: (r.started_at as string) ?? null,
    finishedAt: (r.finished_at as string) ?? null,
  };
}

const SELECT = `SELECT b.*, a.name AS app_name, u.email AS user_email
  FROM builds b JOIN apps a ON a.id = b.app_id LEFT JOIN users u ON u.id = b.user_id`;

/** Build records: one row per push (or API build), from queued to finished. */
export function createBuildsRepo(db: Db) {
  return {
    create(input: {
      id: string;
      appId: number;
      sourceVersion: string | null;
      sourceSubject?: string | null;
      userId: number | null;
      logPath: string;
    }): BuildRow {
      db.prepare(
        "INSERT INTO builds (id, app_id, status, source_version, source_subject, user_id, log_path) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
      ).run(input.id, input.appId, input.sourceVersion, input.sourceSubject ?? null, input.userId, input.logPath);
      return this.get(input.id)!;
    },
    get(id: string): BuildRow | undefined {
      const r = db.prepare(`${SELECT} WHERE b.id = ?`).get(id) as Record<string, unknown> | undefined;
      return r && toBuild(r);
    },
    /** The app's builds whose id starts with prefix (builds:output abc123). */
    findByPrefix(appId: number, prefix: string, limit = 5): BuildRow[] {
      const like = prefix.replace(/[%_\\]/g, (c) => `\\${c}`) + '%';
      return (
        db
          .prepare(`${SELECT} WHERE b.app_id = ? AND b.id LIKE ? ESCAPE '\\' ORDER BY b.created_at DESC LIMIT ?`)
          .all(appId, like, limit) as Array<Record<string, unknown>>
      ).map(toBuild);
    },
    /** Newest first. */
    listForApp(appId: number, limit = 50): BuildRow[] {
      return (
        db
          .prepare(`${SELECT} WHERE b.app_id = ? ORDER BY b.created_at DESC, b.rowid DESC LIMIT ?`)
          .all(appId, limit) as Array<Record<string, unknown>>
      ).map(toBuild);
    },
    latestForApp(appId: number): BuildRow | undefined {
      return this.listForApp(appId, 1)[0];
    },
    markRunning(id: string): void {
      db.prepare(`UPDATE builds SET status = 'running', started_at = ${NOW} WHERE id = ? AND status = 'pending'`).run(
        id,
      );
    },
    /** Records the outcome once: a finished build never changes again. */
    finish(
      id: string,
      outcome: {
        status: 'succeeded' | 'failed' | 'cancelled';
        error?: string | null;
        imageDigest?: string | null;
        buildpacks?: BuildRow['buildpacks'];
        buildpacksFrom?: string | null;
        phaseTimings?: Record<string, number>;
        releaseVersion?: number | null;
      },
    ): void {
      db.prepare(
        `UPDATE builds SET status = ?, error = ?, image_digest = coalesce(?, image_digest), buildpacks = coalesce(?, buildpacks),
           phase_timings = coalesce(?, phase_timings), release_version = coalesce(?, release_version),
           buildpacks_from = coalesce(?, buildpacks_from), finished_at = ${NOW}
         WHERE id = ? AND status IN ('pending', 'running')`,
      ).run(
        outcome.status,
        outcome.error ?? null,
        outcome.imageDigest ?? null,
        outcome.buildpacks ? JSON.stringify(outcome.buildpacks) : null,
        outcome.phaseTimings ? JSON.stringify(outcome.phaseTimings) : null,
        outcome.releaseVersion ?? null,
        outcome.buildpacksFrom ?? null,
        id,
      );
    },
    /** On server start: builds that were pending or running when the server stopped can never finish. */
    failInterrupted(): number {
      return db
        .prepare(
          `UPDATE builds SET status = 'failed', error = 'the server stopped while this build was running', finished_at = ${NOW}
           WHERE status IN ('pending', 'running')`,
        )
        .run().changes;
    },
  };
}
export type BuildsRepo = ReturnType<typeof createBuildsRepo>;
