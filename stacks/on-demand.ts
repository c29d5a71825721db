import * as path from 'node:path';
import type Docker from 'dockerode';
import { openImageStore, type ImageStore } from '../buildpacks/oci/layout';
import { ensureStack, stackImageName, stackStoreRef } from './builder';
import { stackInfo } from './info';

/**
 * Stacks built on first use: a build for an app whose stack is not in the store (or not in Docker)
 * builds it first, with its progress in the build's output. Most of the time the machine-wide
 * stack cache has it and this costs seconds; a stack never built on this machine is a debootstrap
 * (a few minutes). Concurrent builds needing the same stack wait for one build of it.
 */
export interface StackProvider {
  ensure(stack: string, log: (line: string) => void): Promise<void>;
}

export function createStackProvider(opts: {
  store: ImageStore;
  docker: Docker;
  stacksDir: string;
  stackCache: string;
}): StackProvider {
  const inflight = new Map<string, Promise<void>>();

  async function present(stack: string): Promise<boolean> {
    for (const kind of ['build', 'run'] as const) {
      if (!(await opts.store.resolve(stackStoreRef(stack, kind, 'latest')))) return false;
      try {
        await opts.docker.getImage(`${stackImageName(stack, kind)}:latest`).inspect();
      } catch {
        return false;
      }
    }
    return true;
  }

  return {
    async ensure(stack, log) {
      stackInfo(stack);
      if (await present(stack)) return;
      let work = inflight.get(stack);
      if (!work) {
        log(`-----> The ${stack} stack is not on this server yet: building it (once; a few minutes when not cached)`);
        const started = Date.now();
        work = ensureStack({
          stack,
          store: opts.store,
          docker: opts.docker,
          workDir: path.join(opts.stacksDir, 'work'),
          cacheStore: openImageStore(opts.stackCache),
          log: (l) => log(l.startsWith('-----> ') || l.startsWith('       ') ? l : `       ${l}`),
        }).then(() => log(`-----> Stack ${stack} ready in ${Math.round((Date.now() - started) / 1000)}s`));
        inflight.set(stack, work);
        void work.finally(() => inflight.delete(stack)).catch(() => undefined);
      } else {
        log(`-----> Waiting for the ${stack} stack, which another build is building`);
      }
      await work;
    },
  };
}
