import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { ensureStack } from '../../stacks/builder';
import { knownStacks, stackInfo } from '../../stacks/info';
import type { State } from '../state';
import type { AppRow } from '../state/repos/apps';

const log = createLogger('slipway-server');

export interface StackInfo {
  name: string;
  default: boolean;
  buildDigest: string | null;
  runDigest: string | null;
  version: string | null;
  versions: string[];
  apps: string[];
}

/**
 * Stacks: what the store holds (stacks/NAME-KIND:TAG) and which apps use each stack; `update`
 * rebuilds both images with fresh security updates under a new tag (one at a time; it takes a
 * minute or two). Apps pick the new run image up on their next build or rebase.
 */
export function createStackService(deps: { state: State; store: ImageStore; docker: Docker; paths: HomePaths; config: Pick<SlipwayConfig, 'stack'> }) {
  let updating: Promise<unknown> | undefined;
  return {
    async list(): Promise<StackInfo[]> {
      const tags = (await deps.store.listTags()).filter((t) => t.ref.startsWith('stacks/'));
      const apps = deps.state.apps.list();
      const names = new Set([...knownStacks(), deps.config.stack, ...apps.map((a) => a.stack)]);
      return [...names].sort().map((name) => {
        const of = (kind: string) => tags.filter((t) => t.ref.startsWith(`stacks/${name}-${kind}:`));
        const latest = (kind: string) => of(kind).find((t) => t.ref.endsWith(':latest'))?.descriptor.digest ?? null;
        const latestRun = latest('run');
        const versions = of('run').filter((t) => !t.ref.endsWith(':latest')).map((t) => t.ref.split(':')[1]);
        return {
          name,
          default: name === deps.config.stack,
          buildDigest: latest('build'),
          runDigest: latestRun,
          version: of('run').find((t) => !t.ref.endsWith(':latest') && t.descriptor.digest === latestRun)?.ref.split(':')[1] ?? null,
          versions,
          apps: apps.filter((a) => a.stack === name).map((a) => a.name),
        };
      });
    },

    /**
     * stack:set: the next build uses the new stack (built on first use if missing); the running
     * release keeps its image. The app's build cache is dropped: its layers were built for the old stack.
     */
    setForApp(app: AppRow, stack: string): { changed: boolean; previous: string } {
      stackInfo(stack);
      if (stack === app.stack) return { changed: false, previous: app.stack };
      deps.state.apps.setStack(app.id, stack);
      fs.rmSync(path.join(deps.paths.caches, app.name), { recursive: true, force: true });
      return { changed: true, previous: app.stack };
    },

    /** Rebuilds the default stack's images with fresh updates; one update at a time. */
    async update(): Promise<{ name: string; build: string; run: string; runDigest: string; seconds: number }> {
      if (updating) throw new SlipwayError('CONFLICT', 'a stack update is already running', { hint: 'wait for it to finish, then see slipway stacks' });
      const started = Date.now();
      const work = ensureStack({
        stack: deps.config.stack,
        store: deps.store,
        docker: deps.docker,
        workDir: path.join(deps.paths.stacks, 'work'),
        force: true,
        log: (l) => log.info(`stacks:update: ${l}`),
      });
      updating = work;
      try {
        const images = await work;
        return { name: deps.config.stack, build: images.build.ref, run: images.run.ref, runDigest: images.run.manifestDigest, seconds: Math.round((Date.now() - started) / 1000) };
      } finally {
        updating = undefined;
      }
    },
  };
}
export type StackService = ReturnType<typeof createStackService>;
