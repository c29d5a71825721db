import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SlipwayError } from '../../common/errors';
import { CONFIG_KEY_RE } from '../../common/names';
import { CA_PATH } from './container';
import { isBuildpackId, isBuildpackVersion, type Buildpack } from './types';
import { excerpt } from './safe-fs';

const run = promisify(execFile);

/**
 * The build workspace on the host (kept after a failed build for inspection):
 *
 *   app/         the app source, mounted at /app (becomes the app layer)
 *   layers/      mounted at /layers: one dir per CNB buildpack, config/metadata.toml
 *   platform/    mounted read-only at /platform: env/<NAME> = config vars (never in a layer)
 *   buildpacks/  the group's buildpacks, mounted at /cnb/buildpacks/<sha256(id@version)[:32]>
 *   io/          mounted at /cnb/slipway: the step runner, plan files, detect output
 *   tmp/         layer tars while exporting (host only)
 *   *.toml       order, group, plan, analyzed, report (host only)
 *
 * The per-app cache dir holds legacy/ (CACHE_DIR, mounted at /cache) and cnb/committed/ (cache
 * layer tars named by diff ID plus metadata.json), so caches survive builds and workspaces do not.
 */
export interface Workspace {
  root: string;
  app: string;
  layers: string;
  platform: string;
  buildpacks: string;
  io: string;
  tmp: string;
  legacyCache: string;
  cnbCache: string;
}

export const BUILD_UID = 1000;

export function workspacePaths(root: string, cacheDir: string): Workspace {
  return {
    root,
    app: path.join(root, 'app'),
    layers: path.join(root, 'layers'),
    platform: path.join(root, 'platform'),
    buildpacks: path.join(root, 'buildpacks'),
    io: path.join(root, 'io'),
    tmp: path.join(root, 'tmp'),
    legacyCache: path.join(cacheDir, 'legacy'),
    cnbCache: path.join(cacheDir, 'cnb'),
  };
}

/** The step runner: sources earlier legacy buildpacks' `export` files, then execs the step. */
export const STEP_SCRIPT = `#!/bin/bash
# Runs one buildpack step; records its own run time (EPOCHREALTIME: no fork) so the platform's
# overhead can be told apart from the buildpacks' work.
__slipway_t0=\${EPOCHREALTIME/./}
if [ -n "\${SLIPWAY_EXPORTS:-}" ]; then
  IFS=: read -r -a __slipway_exports <<<"$SLIPWAY_EXPORTS"
  for __slipway_f in "\${__slipway_exports[@]}"; do [ -f "$__slipway_f" ] && . "$__slipway_f"; done
  unset __slipway_f __slipway_exports
fi
unset SLIPWAY_EXPORTS
"$@"
__slipway_rc=$?
echo "$(( (\${EPOCHREALTIME/./} - __slipway_t0) / 1000 )) $1" >> /cnb/slipway/timings
exit $__slipway_rc
`;
export const STEP = '/cnb/slipway/step.sh';

/** Creates the (empty) directories the build container mounts, so it can start right away. */
export function createWorkspaceDirs(ws: Workspace): void {
  fs.rmSync(ws.root, { recursive: true, force: true });
  for (const d of [
    ws.app,
    ws.layers,
    path.join(ws.platform, 'env'),
    ws.buildpacks,
    ws.io,
    ws.tmp,
    ws.legacyCache,
    path.join(ws.cnbCache, 'committed'),
  ]) {
    fs.mkdirSync(d, { recursive: true });
  }
}

/** Fills the workspace: app source, config vars as files, the step runner; owned by uid 1000. */
export async function prepareWorkspace(
  ws: Workspace,
  opts: { sourceDir: string; env: Record<string, string>; exclude?: (rel: string) => boolean },
): Promise<void> {
  fs.cpSync(opts.sourceDir, ws.app, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => {
      const rel = path.relative(opts.sourceDir, src);
      if (rel === '') return true;
      if (rel === '.git' || rel.startsWith('.git' + path.sep)) return false;
      return !opts.exclude?.(rel.split(path.sep).join('/'));
    },
  });
  // Config vars as files (ENV_DIR / <platform>/env): readable by the build user only.
  for (const [k, v] of Object.entries(opts.env)) {
    if (!CONFIG_KEY_RE.test(k)) {
      throw new SlipwayError('BUILD_FAILED', `${JSON.stringify(k)} is not a valid environment variable name`, {
        hint: 'names start with a letter or "_" and use letters, digits and "_" (check [[build.env]] in project.toml)',
        details: { phase: 'detect' },
      });
    }
    fs.writeFileSync(path.join(ws.platform, 'env', k), v, { mode: 0o600 });
  }
  fs.writeFileSync(path.join(ws.io, 'step.sh'), STEP_SCRIPT, { mode: 0o755 });
  await chownBuildUser(ws.app, ws.layers, ws.platform, ws.io, ws.buildpacks, ws.legacyCache);
}

export async function chownBuildUser(...dirs: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await run('chown', ['-R', `${BUILD_UID}:${BUILD_UID}`, '--', ...dirs]);
}

/**
 * Where a buildpack lives in the workspace and inside the build container (ws.buildpacks is
 * mounted at /cnb/buildpacks). Named by a hash of id@version, never by the strings themselves:
 * they come from untrusted buildpack.toml files (validated as well, see types.ts).
 */
export const bpDirName = (bp: Buildpack) => {
  if (!isBuildpackId(bp.id) || !isBuildpackVersion(bp.version)) {
    throw new SlipwayError(
      'BUILD_FAILED',
      `buildpack ${excerpt(`${bp.id}@${bp.version}`)} has an id or version that is not allowed`,
      { details: { phase: 'detect' } },
    );
  }
  return createHash('sha256').update(`${bp.id}@${bp.version}`).digest('hex').slice(0, 32);
};
export const bpImageDir = (bp: Buildpack) => `/cnb/buildpacks/${bpDirName(bp)}`;
export const bpHostDir = (ws: Workspace, bp: Buildpack) => path.join(ws.buildpacks, bpDirName(bp));

/** Copies buildpacks into the workspace (writable: legacy buildpacks write their `export` file). */
export async function installBuildpacks(ws: Workspace, bps: Buildpack[]): Promise<void> {
  for (const bp of bps) {
    const dest = bpHostDir(ws, bp);
    if (fs.existsSync(dest)) continue;
    fs.cpSync(bp.dir, dest, { recursive: true, verbatimSymlinks: true, filter: (s) => path.basename(s) !== '.git' });
  }
  await chownBuildUser(ws.buildpacks);
}

/**
 * The shared downloads dir (one per machine, see BuildOptions.downloadCacheDir): owned by the
 * build uid so buildpacks can add to it. Writable by every build, so nothing in it is trusted:
 * readers name files by the registry's sha512 and check their own copy before use.
 */
export function ensureDownloadCache(dir: string): void {
  if (fs.existsSync(dir)) return;
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chownSync(dir, BUILD_UID, BUILD_UID);
}

export function binds(ws: Workspace, caBundle: string, downloadCacheDir?: string): string[] {
  return [
    ...(downloadCacheDir ? [`${downloadCacheDir}:/cnb/downloads`] : []),
    `${ws.app}:/app`,
    `${ws.layers}:/layers`,
    `${ws.platform}:/platform:ro`,
    `${ws.buildpacks}:/cnb/buildpacks`,
    `${ws.io}:/cnb/slipway`,
    `${ws.legacyCache}:/cache`,
    `${caBundle}:${CA_PATH}:ro`,
  ];
}
