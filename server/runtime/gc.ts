import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertAppName } from '../../common/names';
import type { Ctx } from './context';

/**
 * Garbage collection and app destruction. Docker images are removed only when their labels prove
 * they are this app's (io.slipway.managed=true, io.slipway.app=APP; the exporter writes them) and
 * no kept release or running container uses them.
 */
export interface GcReport {
  apps: Record<string, { keptImages: number; removedImages: string[]; clearedCacheBytes: number }>;
  /** Store refs kept (passed to the store's blob GC). */
  keepRefs: string[];
  storeGc: 'done';
}

/** Manifest digests kept for an app: the newest `keep` distinct images, the current one, running ones. */
export function imagesToKeep(
  releases: Array<{ version: number; imageDigest: string | null }>,
  keep: number,
  alsoKeepVersions: number[],
): Set<string> {
  const out = new Set<string>();
  for (const r of [...releases].sort((a, b) => b.version - a.version)) {
    if (!r.imageDigest) continue;
    if (out.size < keep || alsoKeepVersions.includes(r.version)) out.add(r.imageDigest);
  }
  return out;
}

export async function collectAppGarbage(ctx: Ctx): Promise<GcReport> {
  const report: GcReport = { apps: {}, keepRefs: [], storeGc: 'done' };
  const store = ctx.deps.store;
  for (const app of ctx.state.apps.list()) {
    const releases = ctx.state.releases.list(app.id, 10_000);
    const current = releases.find((r) => r.id === app.currentReleaseId);
    const running = (ctx.table.get(app.name) ?? []).map((d) => d.release);
    const keep = imagesToKeep(releases, ctx.opts.keepReleases, [...running, ...(current ? [current.version] : [])]);
    for (const r of releases)
      if (r.imageDigest && keep.has(r.imageDigest) && r.imageRef) report.keepRefs.push(r.imageRef);
    // A build tags apps/APP:<build-id> before its release exists: never untag a running build's image.
    for (const b of ctx.state.builds.listForApp(app.id, 20)) {
      if (b.status === 'pending' || b.status === 'running') report.keepRefs.push(`apps/${app.name}:${b.id}`);
    }
    const entry = (report.apps[app.name] = {
      keptImages: keep.size,
      removedImages: [] as string[],
      clearedCacheBytes: 0,
    });
    entry.clearedCacheBytes = capBuildCache(ctx, app.name, app.id);
    const keepIds = new Set<string>();
    for (const digest of keep) {
      if (store.hasBlob(digest)) keepIds.add((await store.readManifest(digest)).config.digest);
    }
    for (const img of await ctx.driver.listAppImages(app.name)) {
      if (keepIds.has(img.id)) continue;
      if (await ctx.driver.removeImage(img.id)) entry.removedImages.push(img.id);
    }
  }
  ctx.forgetImages();
  report.keepRefs = [...new Set(report.keepRefs)];
  await ctx.deps.collectStoreGarbage(report.keepRefs);
  return report;
}

/**
 * A build cache past the cap is cleared whole (the next build is a cold one) rather than trimmed:
 * which layers a buildpack can do without is the buildpack's business, not ours.
 */
function capBuildCache(ctx: Ctx, appName: string, appId: number): number {
  const dir = path.join(ctx.deps.paths.caches, appName);
  const size = dirSize(dir);
  if (size <= ctx.opts.buildCacheCapMb * 1024 * 1024) return 0;
  if (ctx.state.builds.listForApp(appId, 5).some((b) => b.status === 'pending' || b.status === 'running')) return 0;
  fs.rmSync(dir, { recursive: true, force: true });
  ctx.platformLog(
    appName,
    'slipway',
    `Build cache of ${Math.round(size / 1048576)} MB exceeded the cap of ${ctx.opts.buildCacheCapMb} MB and was cleared; the next build starts cold`,
  );
  return size;
}

function dirSize(dir: string): number {
  let total = 0;
  const walk = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    else total += st.size;
  };
  walk(dir);
  return total;
}

/** Disk used by an app: its engine images, build cache and repository (bytes). */
export async function diskUsage(ctx: Ctx, appName: string): Promise<{ images: number; cache: number; repo: number }> {
  assertAppName(appName);
  const images = (await ctx.driver.listAppImages(appName)).reduce((n, i) => n + i.size, 0);
  return {
    images,
    cache: dirSize(path.join(ctx.deps.paths.caches, appName)),
    repo: dirSize(path.join(ctx.deps.paths.repos, `${appName}.git`)),
  };
}

/**
 * The runtime's part of apps:destroy (server/apps/destroy.ts asks each part): dynos and one-offs,
 * engine images; the routes lose the app's backends.
 */
export async function destroyApp(ctx: Ctx, appName: string): Promise<void> {
  assertAppName(appName);
  for (const d of ctx.table.get(appName) ?? []) {
    d.retired = true;
    clearTimeout(d.timer);
    d.stopLogs?.();
  }
  ctx.table.delete(appName);
  // One-offs leave the table when their container's wait returns, which races with the removal
  // below: forget them here so nothing of the app is listed once destroy returns.
  ctx.oneOffs.delete(appName);
  for (const c of await ctx.driver.list(appName)) await ctx.driver.remove(c.id);
  await ctx.driver.removeAppNetwork(appName);
  for (const img of await ctx.driver.listAppImages(appName)) await ctx.driver.removeImage(img.id);
  ctx.forgetImages();
  await ctx.publish();
}
