import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { HomePaths } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import { assertAppName } from '../../common/names';

const run = promisify(execFile);

/**
 * The pre-receive hook installed into every app repository. It carries no paths, ports or app
 * names: the server sets SLIPWAY_HOOK_* in the environment of the git processes it spawns, so a
 * hook written today keeps working after the server moves or changes port. A push that does not
 * come through the server (a local `git push /var/lib/slipway/repos/x.git`) has no such
 * environment and is refused instead of bypassing the build.
 */
export const PRE_RECEIVE_HOOK = `#!/bin/sh
# Installed by Slipway: a push to the deploy branch builds and releases the app.
if [ -z "$SLIPWAY_HOOK_SOCKET" ] || [ -z "$SLIPWAY_HOOK_NODE" ] || [ -z "$SLIPWAY_HOOK_SCRIPT" ]; then
  echo " !     This repository is managed by Slipway: push to it through the Slipway git endpoint."
  exit 1
fi
exec "$SLIPWAY_HOOK_NODE" "$SLIPWAY_HOOK_SCRIPT"
`;

/** Path of an app's bare repository: only ever built from a validated app name. */
export function appRepoPath(paths: Pick<HomePaths, 'repos'>, appName: string): string {
  return path.join(paths.repos, `${assertAppName(appName)}.git`);
}

/**
 * Creates the bare repository for an app (apps:create) with Slipway's pre-receive hook. Idempotent:
 * an existing repository keeps its history and gets the current hook.
 */
export async function createAppRepository(paths: Pick<HomePaths, 'repos'>, appName: string): Promise<void> {
  const dir = appRepoPath(paths, appName);
  fs.mkdirSync(paths.repos, { recursive: true });
  try {
    // main is the default branch so `git clone` of a fresh app checks out what was pushed.
    await run('git', ['init', '--bare', '--quiet', '--initial-branch=main', dir]);
    // Receive packs of any size, keep history compact, and never let a client rewrite the hook dir.
    await run('git', ['--git-dir', dir, 'config', 'receive.denyDeletes', 'false']);
    await run('git', ['--git-dir', dir, 'config', 'receive.denyNonFastForwards', 'false']);
    await run('git', ['--git-dir', dir, 'config', 'http.receivepack', 'true']);
    await run('git', ['--git-dir', dir, 'config', 'uploadpack.allowReachableSHA1InWant', 'false']);
    await enableFsck(dir);
  } catch (err) {
    throw new SlipwayError('INTERNAL', `could not create the git repository for "${appName}"`, {
      hint: 'check that git is installed and SLIPWAY_HOME/repos is writable',
      cause: err,
    });
  }
  installHook(dir);
}

/**
 * receive.fsckObjects: git checks every pushed object (malformed trees, ".." or ".git" path
 * entries, bad modes, .gitmodules tricks) before accepting the pack, so nothing git itself would
 * refuse to check out ever reaches the build's unpacking. Set for new repositories and, at server
 * start, for existing ones.
 */
export async function enableFsck(repoDir: string): Promise<void> {
  await run('git', ['--git-dir', repoDir, 'config', 'receive.fsckObjects', 'true']);
}

/** (Re)writes the pre-receive hook of an existing repository. */
export function installHook(repoDir: string): void {
  const hooks = path.join(repoDir, 'hooks');
  fs.mkdirSync(hooks, { recursive: true });
  // Drop git's sample hooks: nothing in this directory should run except ours.
  for (const f of fs.readdirSync(hooks)) {
    if (f.endsWith('.sample')) fs.rmSync(path.join(hooks, f), { force: true });
  }
  const file = path.join(hooks, 'pre-receive');
  fs.writeFileSync(`${file}.tmp`, PRE_RECEIVE_HOOK, { mode: 0o755 });
  fs.renameSync(`${file}.tmp`, file);
}

/** Removes an app's repository (apps:destroy). Missing is fine. */
export async function removeAppRepository(paths: Pick<HomePaths, 'repos'>, appName: string): Promise<void> {
  await fs.promises.rm(appRepoPath(paths, appName), { recursive: true, force: true });
}

export function appRepositoryExists(paths: Pick<HomePaths, 'repos'>, appName: string): boolean {
  return fs.existsSync(path.join(appRepoPath(paths, appName), 'HEAD'));
}
