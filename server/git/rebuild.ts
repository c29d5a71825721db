import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { SlipwayError } from '../../common/errors';
import type { DeployPipeline } from '../deploys/pipeline';
import { cleanSubject } from '../deploys/commit-label';
import type { State } from '../state';
import type { BuildRow } from '../state/repos/builds';
import { deployBranches } from './push-plan';
import { readRef, type PushLocks } from './push-lock';

const run = promisify(execFile);

export interface RebuildDeps {
  state: State;
  builds: Pick<DeployPipeline, 'deploy'>;
  locks: PushLocks;
  repoDir: (appName: string) => string;
}

/**
 * `slipway builds:create`: builds and releases the deploy branch's current commit again, without
 * a new commit (new buildpack versions, a purged cache, an updated stack). It goes the way a push
 * goes: the app's push lock (so it never interleaves with a push), the build queue, the build
 * service, the release; and the branch must still name that commit just before the release.
 * Resolves with the build record as soon as it exists; the build runs on (follow its output).
 */
export async function startRebuild(
  deps: RebuildDeps,
  appName: string,
  user: { id: number; email: string } | null,
): Promise<BuildRow> {
  const app = deps.state.apps.require(appName);
  const repoDir = deps.repoDir(app.name);
  // Named by the commit it will most likely build (a push waiting behind says "build of 1a2b3c4").
  const head = await readRef(repoDir, `refs/heads/${deployBranches(app.deployBranch)[0]}`);
  const unlock = await deps.locks.acquire({ appName: app.name, sha: head || 'rebuild' });
  try {
    let ref = '';
    let sha = '';
    for (const b of deployBranches(app.deployBranch)) {
      sha = await readRef(repoDir, `refs/heads/${b}`);
      if (sha) {
        ref = `refs/heads/${b}`;
        break;
      }
    }
    if (!sha) {
      throw new SlipwayError(
        'NOT_FOUND',
        `${app.name} has nothing to rebuild: no commit has been pushed to ${deployBranches(app.deployBranch).join(' or ')}`,
        {
          hint: 'deploy it first: git push slipway main',
        },
      );
    }
    const subject = cleanSubject(
      (await run('git', ['--git-dir', repoDir, 'log', '-1', '--format=%s', sha]).catch(() => ({ stdout: '' }))).stdout,
    );
    const archive = spawn('git', ['--git-dir', repoDir, 'archive', '--format=tar', sha], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let created!: (b: BuildRow) => void;
    const recorded = new Promise<BuildRow>((resolve) => (created = resolve));
    const done = deps.builds.deploy({
      appName: app.name,
      user,
      sourceVersion: sha,
      subject,
      source: archive.stdout,
      onEvent: () => undefined, // the build log has every line (builds:output follows it)
      onCreated: created,
      beforeRelease: async () => {
        if ((await readRef(repoDir, ref)) !== sha) {
          throw new SlipwayError(
            'CONFLICT',
            `${ref.slice('refs/heads/'.length)} moved while the rebuild of ${sha.slice(0, 7)} ran`,
            { hint: 'the newer push deploys; nothing was released' },
          );
        }
      },
    });
    void done.finally(unlock);
    return await Promise.race([recorded, done.then((o) => o.build)]);
  } catch (err) {
    unlock();
    throw err;
  }
}
