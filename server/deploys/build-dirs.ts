import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HomePaths } from '../../common/config';
import type { State } from '../state';

const KEEP_LOGS = 50;
const KEEP_FAILED_WORKSPACES = 2;

/**
 * Build directories (builds/ID: source/, workspace/, build.log): made for each build, pruned
 * after it, removed with the app. The only code that creates or deletes them.
 */
export function createBuildDirs(deps: { state: State; paths: HomePaths }) {
  const { state, paths } = deps;
  return {
    create(buildId: string) {
      const dir = path.join(paths.builds, buildId);
      const d = {
        dir,
        source: path.join(dir, 'source'),
        workspace: path.join(dir, 'workspace'),
        log: path.join(dir, 'build.log'),
        events: path.join(dir, 'events.jsonl'),
      };
      fs.mkdirSync(d.source, { recursive: true });
      fs.mkdirSync(d.workspace, { recursive: true });
      return d;
    },

    /**
     * Disk stays bounded: the last KEEP_LOGS builds of an app keep their log, the last
     * KEEP_FAILED_WORKSPACES failed ones their workspace; older directories go.
     */
    prune(appId: number): void {
      let failed = 0;
      state.builds.listForApp(appId, 500).forEach((b, i) => {
        const dir = path.join(paths.builds, b.id);
        if (i >= KEEP_LOGS) fs.rmSync(dir, { recursive: true, force: true });
        else if (
          b.status !== 'running' &&
          b.status !== 'pending' &&
          (b.status !== 'failed' || ++failed > KEEP_FAILED_WORKSPACES)
        ) {
          fs.rmSync(path.join(dir, 'workspace'), { recursive: true, force: true });
        }
      });
    },

    /** A build's recorded DeployEvents (builds/ID/events.jsonl), oldest first; [] when none are left. */
    readEvents(buildId: string): unknown[] {
      let text = '';
      try {
        text = fs.readFileSync(path.join(paths.builds, buildId, 'events.jsonl'), 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown);
    },

    /** The builds' part of apps:destroy: every build directory of the app and its build cache. */
    removeApp(app: { id: number; name: string }): void {
      for (const b of state.builds.listForApp(app.id, 100_000))
        fs.rmSync(path.join(paths.builds, b.id), { recursive: true, force: true });
      fs.rmSync(path.join(paths.caches, app.name), { recursive: true, force: true });
    },
  };
}
export type BuildDirs = ReturnType<typeof createBuildDirs>;
