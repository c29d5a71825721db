import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SuiteContext } from '../suites';
import { openImageStore } from '../../buildpacks/oci/layout';
import { residentTogetherMiB } from '../lib/page-union';
import { summarize } from '../lib/stats';
import { TINY_DIR, loadavg, startBenchPlatform, waitForNew200 } from '../lib/platform';

/**
 * `footprint`: resident memory (VmRSS) of slipway-server and slipway-router idle with 0 apps and
 * with 20 deployed apps (2 in --quick), and disk per app: its bare repository, its build cache
 * and its share of the image store (blobs reachable from its apps/APP:* tags and from no stack
 * image). The apps are the tiny perl app (bench/apps/tiny: Procfile, no dependencies), each
 * deployed with a real git push and served through the router before measuring, so the
 * numbers are the platform's overhead per app, not the app's.
 */
function duBytes(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return st.blocks * 512;
  let total = st.blocks * 512;
  for (const e of fs.readdirSync(p)) total += duBytes(path.join(p, e));
  return total;
}

async function blobsOf(store: ReturnType<typeof openImageStore>, manifestDigest: string): Promise<string[]> {
  const m = await store.readManifest(manifestDigest);
  return [manifestDigest, m.config.digest, ...m.layers.map((l) => l.digest)];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settle = () => sleep(5000);

/**
 * One process's memory in MiB: VmRSS (the goal's measure), its anonymous part (heap, stacks:
 * the process's own) and its file-backed part (mostly the node binary's pages, shared by the
 * server and the router, so VmRSS of the two added counts them twice; bench/lib/page-union.ts
 * counts each page once).
 */
function memoryMiB(pid: number) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Math.round(Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 102.4) / 10;
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
}

/** Both processes now (5 s after the last action) and again 30 s later (idle for longer). */
async function sample(serverPid: number, routerPid: number) {
  const at5s = { server: memoryMiB(serverPid), router: memoryMiB(routerPid) };
  const together5s = residentTogetherMiB([serverPid, routerPid]);
  const l1 = loadavg();
  await sleep(25_000);
  const at30s = { server: memoryMiB(serverPid), router: memoryMiB(routerPid) };
  return {
    server_rss_mib: at5s.server.rss,
    router_rss_mib: at5s.router.rss,
    /** Resident pages of the two processes, each physical page once (null when not root). */
    together_resident_mib: together5s,
    loadavg_1m: l1,
    detail_5s: at5s,
    detail_30s: at30s,
    together_rss_mib_30s: Math.round((at30s.server.rss + at30s.router.rss) * 10) / 10,
    together_resident_mib_30s: residentTogetherMiB([serverPid, routerPid]),
  };
}

export async function runFootprintSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const count = ctx.quick ? 2 : 20;
  // The default per-user limit is 10 apps (common/limits.ts): the full run deploys 20.
  const platform = await startBenchPlatform({ env: { SLIPWAY_LIMIT_APPS: String(Math.max(10, count)) } });
  try {
    const pid = (name: string) =>
      Number(fs.readFileSync(path.join(platform.server.paths.run, `test-${name}.pid`), 'utf8'));
    const [serverPid, routerPid] = [pid('server'), pid('router')];
    await settle();
    const idle0 = await sample(serverPid, routerPid);
    ctx.log(
      `idle, 0 apps: server ${idle0.server_rss_mib} MiB, router ${idle0.router_rss_mib} MiB` +
        `, each page once ${idle0.together_resident_mib} MiB (30 s later: ${idle0.detail_30s.server.rss} + ${idle0.detail_30s.router.rss}, each page once ${idle0.together_resident_mib_30s})`,
    );

    const apps: string[] = [];
    const deployMs: number[] = [];
    for (let i = 0; i < count; i++) {
      const app = `bench-fp-${i}-${process.pid % 10000}`;
      await platform.createApp(app);
      const repo = await platform.initRepo(app, TINY_DIR);
      const t = Date.now();
      await platform.push(repo, app);
      await waitForNew200(platform.server.httpPort, platform.host(app), undefined, 3 * 60_000);
      deployMs.push(Date.now() - t);
      apps.push(app);
      ctx.log(`deployed ${i + 1}/${count} (${deployMs[i]} ms)`);
    }
    await settle();
    const idleN = await sample(serverPid, routerPid);
    ctx.log(
      `idle, ${count} apps: server ${idleN.server_rss_mib} MiB, router ${idleN.router_rss_mib} MiB` +
        `, each page once ${idleN.together_resident_mib} MiB (30 s later: ${idleN.detail_30s.server.rss} + ${idleN.detail_30s.router.rss}, each page once ${idleN.together_resident_mib_30s})`,
    );

    // Disk per app.
    const store = openImageStore(platform.server.paths.images);
    const tags = await store.listTags();
    const shared = new Set<string>();
    for (const t of tags.filter((t) => t.ref.startsWith('stacks/')))
      for (const b of await blobsOf(store, t.descriptor.digest)) shared.add(b);
    const perApp = [];
    for (const app of apps) {
      const own = new Set<string>();
      for (const t of tags.filter((t) => t.ref.startsWith(`apps/${app}:`)))
        for (const b of await blobsOf(store, t.descriptor.digest)) if (!shared.has(b)) own.add(b);
      const imageBytes = [...own].reduce((n, d) => n + (store.hasBlob(d) ? fs.statSync(store.blobPath(d)).size : 0), 0);
      perApp.push({
        repo: duBytes(path.join(platform.server.paths.repos, `${app}.git`)),
        cache: duBytes(path.join(platform.server.paths.caches, app)),
        images: imageBytes,
      });
    }
    const kib = (xs: number[]) => summarize(xs.map((x) => Math.round(x / 1024)));
    const disk = {
      repo_kib: kib(perApp.map((a) => a.repo)),
      cache_kib: kib(perApp.map((a) => a.cache)),
      images_kib: kib(perApp.map((a) => a.images)),
      total_kib: kib(perApp.map((a) => a.repo + a.cache + a.images)),
    };
    return {
      apps: count,
      app: 'bench/apps/tiny (perl web process from the Procfile, 1 web dyno each), deployed with git push',
      idle_0_apps: idle0,
      [`idle_${count}_apps`]: idleN,
      server_rss_growth_per_app_mib: Math.round(((idleN.server_rss_mib - idle0.server_rss_mib) / count) * 100) / 100,
      router_rss_growth_per_app_mib: Math.round(((idleN.router_rss_mib - idle0.router_rss_mib) / count) * 100) / 100,
      deploy_ms: summarize(deployMs),
      disk_per_app: disk,
      note: 'image share = blobs reachable from apps/APP:* tags and from no stack image (compressed, as stored); repo and cache by du (allocated blocks)',
    };
  } finally {
    await platform.stop();
  }
}
