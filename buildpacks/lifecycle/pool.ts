import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { createBuildContainer, DEFAULT_LIMITS } from './container';
import { binds, chownBuildUser, workspacePaths, type Workspace } from './workspace';

/**
 * Pre-started build containers, so a push does not wait for `docker run` (~0.3 s, more under
 * load). At most `size` idle containers per stack; a stack's pool fills after its first build
 * (a machine that never builds on a stack keeps none). Each pooled container is used by one build
 * only and removed with it, exactly like a fresh one:
 *
 * - It is created with the same settings as a fresh build container (uid 1000, no socket,
 *   CapDrop ALL, no-new-privileges, the shared build network), its bind mounts pointing at an
 *   empty slot directory. The build renames the slot to its own workspace path: a bind mount
 *   follows the directory, not its name, so the container sees the build's workspace.
 * - The build's limits are applied with `docker update` when it is taken (adoptBuildContainer).
 * - Labels cannot change after creation, so pooled containers carry io.slipway.pool instead of the
 *   build id; the start-up sweep removes them (sweep.ts), close() at shutdown too.
 * - The legacy CACHE_DIR is per app: the app's cache entries are moved into the slot's cache dir
 *   for the build and back afterwards (renames on one file system).
 */
export interface ContainerPool {
  /**
   * A ready container for this stack, or undefined (then the build starts its own). A container
   * started from an older build image (the stack was updated since) is discarded, not used.
   */
  take(stack: string): Promise<PooledSlot | undefined>;
  /** Tops the stack's pool up in the background (after a build, off its critical path). */
  refill(stack: string): void;
  close(): Promise<void>;
}

export interface PooledSlot {
  container: Docker.Container;
  /** Workspace root the container's mounts point at (rename it to the build's workspace). */
  dir: string;
  /** Mounted at /cache. */
  cacheDir: string;
  /** The build image it runs (compared with the stack's current image when taken). */
  imageId: string;
}

export const POOL_LABEL = 'io.slipway.pool';

export function createContainerPool(opts: {
  docker: Docker;
  /** On the same file system as the build workspaces (renamed into place). */
  dir: string;
  caBundle: string;
  downloadCacheDir?: string;
  labels: Record<string, string>;
  /** Idle containers per stack (0 = no pool). */
  size: number;
  onError?: (err: Error) => void;
}): ContainerPool {
  const ready = new Map<string, PooledSlot[]>();
  const filling = new Map<string, number>();
  const all = new Set<PooledSlot>();
  const inflight = new Set<Promise<void>>();
  let closed = false;

  async function fillOne(stack: string): Promise<void> {
    const id = randomBytes(8).toString('hex');
    const dir = path.join(opts.dir, id);
    const cacheDir = path.join(opts.dir, `${id}.cache`);
    const ws: Workspace = { ...workspacePaths(dir, dir), legacyCache: cacheDir };
    for (const d of [ws.app, ws.layers, path.join(ws.platform, 'env'), ws.buildpacks, ws.io, ws.tmp, cacheDir]) {
      fs.mkdirSync(d, { recursive: true });
    }
    await chownBuildUser(ws.app, ws.layers, ws.platform, ws.io, ws.buildpacks, cacheDir);
    const container = await createBuildContainer({
      docker: opts.docker,
      image: `slipway/${stack}-build:latest`,
      binds: binds(ws, opts.caBundle, opts.downloadCacheDir),
      limits: DEFAULT_LIMITS,
      labels: { ...opts.labels, [POOL_LABEL]: stack },
    }).catch((err: Error) => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(cacheDir, { recursive: true, force: true });
      throw err;
    });
    const imageId = await container.inspect().then(
      (i) => i.Image,
      () => '',
    );
    const slot = { container, dir, cacheDir, imageId };
    if (closed) return discard(slot);
    all.add(slot);
    ready.set(stack, [...(ready.get(stack) ?? []), slot]);
  }

  async function discard(slot: PooledSlot): Promise<void> {
    all.delete(slot);
    await slot.container.remove({ force: true }).catch(() => undefined);
    fs.rmSync(slot.dir, { recursive: true, force: true });
    fs.rmSync(slot.cacheDir, { recursive: true, force: true });
  }

  return {
    async take(stack) {
      const slot = ready.get(stack)?.shift();
      if (!slot) return undefined;
      all.delete(slot);
      const current = await opts.docker
        .getImage(`slipway/${stack}-build:latest`)
        .inspect()
        .then(
          (i) => i.Id,
          () => undefined,
        );
      if (!current || current !== slot.imageId) {
        void discard(slot);
        return undefined;
      }
      return slot;
    },
    refill(stack) {
      if (closed || opts.size <= 0) return;
      const missing = opts.size - (ready.get(stack)?.length ?? 0) - (filling.get(stack) ?? 0);
      for (let i = 0; i < missing; i++) {
        filling.set(stack, (filling.get(stack) ?? 0) + 1);
        const p: Promise<void> = fillOne(stack)
          .catch((err: Error) => opts.onError?.(err))
          .finally(() => {
            filling.set(stack, (filling.get(stack) ?? 1) - 1);
            inflight.delete(p);
          });
        inflight.add(p);
      }
    },
    async close() {
      closed = true;
      // A container still being started is discarded by fillOne itself once it exists.
      await Promise.all([...inflight]);
      const slots = [...all];
      ready.clear();
      await Promise.all(slots.map(discard));
    },
  };
}

/**
 * Makes a pooled slot the build's workspace: the slot dir is renamed to ws.root, the app's legacy
 * cache entries move into the slot's cache dir (mounted at /cache), ws.legacyCache points there.
 */
export function adoptSlot(ws: Workspace, slot: PooledSlot): void {
  fs.rmSync(ws.root, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(ws.root), { recursive: true });
  fs.renameSync(slot.dir, ws.root);
  fs.mkdirSync(path.join(ws.cnbCache, 'committed'), { recursive: true });
  fs.mkdirSync(ws.legacyCache, { recursive: true });
  moveEntries(ws.legacyCache, slot.cacheDir);
  ws.legacyCache = slot.cacheDir;
}

/** After the build (container removed): the legacy cache entries go back to the app's cache. */
export function returnLegacyCache(slotCache: string, appCache: string): void {
  try {
    fs.mkdirSync(appCache, { recursive: true });
    moveEntries(slotCache, appCache);
  } finally {
    fs.rmSync(slotCache, { recursive: true, force: true });
  }
}

function moveEntries(from: string, to: string): void {
  for (const name of fs.readdirSync(from)) {
    fs.rmSync(path.join(to, name), { recursive: true, force: true });
    fs.renameSync(path.join(from, name), path.join(to, name));
  }
}
