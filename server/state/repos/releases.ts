import type { Db } from '../db';
import type { Sealer } from '../crypto';
import { SlipwayError } from '../../../common/errors';

/**
 * Releases: vN = image + config snapshot + process types. Immutable (a trigger enforces it) except
 * status, the deploy outcome. The config snapshot is sealed like config vars; read it with
 * configOf() only where a dyno's environment is being built.
 */
export type ReleaseStatus = 'pending' | 'succeeded' | 'failed';

export interface ReleaseRow {
  id: number;
  appId: number;
  version: number;
  buildId: string | null;
  imageDigest: string | null;
  imageRef: string | null;
  processTypes: Record<string, string>;
  releaseCommand: string | null;
  /** How the image runs when it has no buildpack launcher (Dockerfile/image deploys); null: the launcher. */
  runSpec: ImageRunSpec | null;
  /** app.json fields the runtime uses (healthchecks, formation), captured at build time. */
  appJson: AppJsonRuntime;
  description: string;
  userId: number | null;
  status: ReleaseStatus;
  createdAt: string;
}

/**
 * A release image without the buildpack launcher (built from a Dockerfile, or deployed as is):
 * the image's own ENTRYPOINT/CMD, USER and port. `imageProcess` is the process type that runs
 * ENTRYPOINT + CMD unchanged (web, unless a Procfile names the processes); every other process
 * type, one-off and the release command runs as `sh -c COMMAND` through the ENTRYPOINT.
 */
export interface ImageRunSpec {
  entrypoint: string[];
  cmd: string[];
  /** The image's USER ('' = root). */
  user: string;
  /** The first EXPOSEd TCP port; absent: the platform's PORT. */
  port?: number;
  workdir?: string;
  imageProcess?: string;
}

export const runsAsRoot = (spec: ImageRunSpec | null | undefined) =>
  !!spec && /^(|root|0)(:.*)?$/.test(spec.user.trim());

export interface AppJsonRuntime {
  healthchecks?: Record<string, unknown[]>;
  formation?: Record<string, { quantity?: number; size?: string }>;
  /** app.json `boot_timeout`: seconds a new web dyno has to answer (ps:boot-timeout wins). */
  bootTimeout?: number;
}

interface RawRelease {
  id: number;
  app_id: number;
  version: number;
  build_id: string | null;
  image_digest: string | null;
  image_ref: string | null;
  config_enc: Buffer;
  process_types: string;
  release_command: string | null;
  run_spec: string | null;
  app_json: string;
  description: string;
  user_id: number | null;
  status: ReleaseStatus;
  created_at: string;
}

const toRelease = (r: RawRelease): ReleaseRow => ({
  id: r.id,
  appId: r.app_id,
  version: r.version,
  buildId: r.build_id,
  imageDigest: r.image_digest,
  imageRef: r.image_ref,
  processTypes: JSON.parse(r.process_types) as Record<string, string>,
  releaseCommand: r.release_command,
  runSpec: r.run_spec ? (JSON.parse(r.run_spec) as ImageRunSpec) : null,
  appJson: JSON.parse(r.app_json || '{}') as AppJsonRuntime,
  description: r.description,
  userId: r.user_id,
  status: r.status,
  createdAt: r.created_at,
});

export interface NewRelease {
  buildId: string | null;
  imageDigest: string | null;
  imageRef: string | null;
  config: Record<string, string>;
  processTypes: Record<string, string>;
  releaseCommand?: string | null;
  runSpec?: ImageRunSpec | null;
  appJson?: AppJsonRuntime;
  description: string;
  userId: number | null;
}

export function createReleasesRepo(db: Db, sealer: Sealer) {
  return {
    /** Inserts the next version for the app (versions start at 1, allocated under the write lock). */
    create(appId: number, input: NewRelease): ReleaseRow {
      const id = db
        .transaction(() => {
          const { v } = db
            .prepare('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM releases WHERE app_id = ?')
            .get(appId) as { v: number };
          const info = db
            .prepare(
              `INSERT INTO releases (app_id, version, build_id, image_digest, image_ref, config_enc, process_types, release_command, run_spec, app_json, description, user_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              appId,
              v,
              input.buildId,
              input.imageDigest,
              input.imageRef,
              sealer.seal(JSON.stringify(input.config)),
              JSON.stringify(input.processTypes),
              input.releaseCommand ?? null,
              input.runSpec ? JSON.stringify(input.runSpec) : null,
              JSON.stringify(input.appJson ?? {}),
              input.description,
              input.userId,
            );
          return Number(info.lastInsertRowid);
        })
        .immediate();
      return this.getById(id)!;
    },
    getById(id: number): ReleaseRow | undefined {
      const r = db.prepare('SELECT * FROM releases WHERE id = ?').get(id) as RawRelease | undefined;
      return r && toRelease(r);
    },
    get(appId: number, version: number): ReleaseRow | undefined {
      const r = db.prepare('SELECT * FROM releases WHERE app_id = ? AND version = ?').get(appId, version) as
        RawRelease | undefined;
      return r && toRelease(r);
    },
    require(appId: number, version: number, appName: string): ReleaseRow {
      const r = this.get(appId, version);
      if (!r)
        throw new SlipwayError('NOT_FOUND', `app "${appName}" has no release v${version}`, {
          hint: `list releases with: slipway releases -a ${appName}`,
        });
      return r;
    },
    /** Newest first. */
    list(appId: number, limit = 100): ReleaseRow[] {
      return (
        db
          .prepare('SELECT * FROM releases WHERE app_id = ? ORDER BY version DESC LIMIT ?')
          .all(appId, limit) as RawRelease[]
      ).map(toRelease);
    },
    /** The newest release that carries an image (config-only apps have none). */
    latestWithImage(appId: number): ReleaseRow | undefined {
      const r = db
        .prepare(
          "SELECT * FROM releases WHERE app_id = ? AND image_digest IS NOT NULL AND status = 'succeeded' ORDER BY version DESC LIMIT 1",
        )
        .get(appId) as RawRelease | undefined;
      return r && toRelease(r);
    },
    setStatus(id: number, status: ReleaseStatus): void {
      db.prepare('UPDATE releases SET status = ? WHERE id = ?').run(status, id);
    },
    /** The decrypted config snapshot of a release. */
    configOf(release: ReleaseRow): Record<string, string> {
      const r = db.prepare('SELECT config_enc FROM releases WHERE id = ?').get(release.id) as
        { config_enc: Buffer } | undefined;
      return r ? (JSON.parse(sealer.open(r.config_enc)) as Record<string, string>) : {};
    },
  };
}
export type ReleasesRepo = ReturnType<typeof createReleasesRepo>;
