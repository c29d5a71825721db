import { execFile } from 'node:child_process';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { pack } from 'tar-stream';
import type { SuiteContext } from '../suites';
import { readImage } from '../../buildpacks/lifecycle/analyze';
import { openImageStore, type ImageStore } from '../../buildpacks/oci/layout';
import { ratio, summarize } from '../lib/stats';
import { loadStats, startLoad } from '../lib/load';
import { TINY_DIR, get, loadavg, startBenchPlatform } from '../lib/platform';

const run = promisify(execFile);

/**
 * `stack-update` (issue 18): N tiny Procfile apps (3 quick, 20 full) on the bookworm stack, a
 * stack update made fast as the `rebase` suite does (the run image plus one small layer, tagged
 * as the stack's new :latest in the platform's store), then every app rebased and rolled out by
 * POST /stacks/bookworm/rebase (concurrency: SLIPWAY_STACK_REBASE_CONCURRENCY, default 8) under
 * a steady load through the router on up to 3 apps. The peer: rebuilding every app on the new
 * run image through the push pipeline (an empty commit pushed per app, one build at a time as
 * the platform queues them: what `slipway builds:create` does for each app).
 */
async function updatedRunImage(store: ImageStore): Promise<void> {
  const base = (await readImage(store, 'stacks/bookworm-run:latest'))!;
  const p = pack();
  p.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  p.entry(
    { name: 'etc/slipway-bench-stack-update', mode: 0o644, mtime: new Date(0) },
    `simulated security update ${Date.now()}\n`,
  );
  p.finalize();
  const layer = await store.putLayer(p as unknown as Readable);
  const layers = base.manifest.layers.map((d, i) => ({ descriptor: d, diffId: base.config.rootfs.diff_ids[i] }));
  const img = await store.writeImage(
    { ...base.config, history: [...(base.config.history ?? []), { created_by: 'slipway bench: stack update' }] },
    [...layers, layer],
  );
  await store.tag('stacks/bookworm-run:bench-stack-update', img.manifest);
  await store.tag('stacks/bookworm-run:latest', img.manifest);
}

type Outcome = { app: string; status: string; ms: number; platformMs?: number; message?: string };

export async function runStackUpdateSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const n = ctx.quick ? 3 : 20;
  // 20 apps for one admin: above the default per-user limit (10).
  const platform = await startBenchPlatform({ env: { SLIPWAY_LIMIT_APPS: String(n + 5) } });
  try {
    const apps = Array.from({ length: n }, (_, i) => `bench-su-${i}-${process.pid % 10000}`);
    const repos: string[] = [];
    for (const app of apps) {
      await platform.createApp(app);
      const repo = await platform.initRepo(app, TINY_DIR);
      repos.push(repo);
      await platform.push(repo, app);
    }
    const port = platform.server.httpPort;
    for (const app of apps) {
      const deadline = Date.now() + 60_000;
      while ((await get(port, platform.host(app)).catch(() => ({ status: 0 }))).status !== 200) {
        if (Date.now() > deadline) throw new Error(`${app} is not served`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const load0 = loadavg();
    await updatedRunImage(openImageStore(platform.server.paths.images));

    const loads = await Promise.all(apps.slice(0, 3).map((a) => startLoad(port, platform.host(a), 20)));
    const t0 = Date.now();
    const r = await platform.api<{ results: Outcome[]; summary: string; lines: string[] }>(
      'POST',
      '/stacks/bookworm/rebase',
      {},
    );
    const rebaseAllMs = Date.now() - t0;
    await new Promise((res) => setTimeout(res, 2000));
    const records = (await Promise.all(loads.map((l) => l.stop()))).flat();
    for (const l of r.lines) ctx.log(l);
    ctx.log(`rebase of ${n} apps: ${rebaseAllMs} ms (${r.summary})`);
    const rebased = r.results.filter((x) => x.status === 'rebased');
    if (rebased.length !== n) throw new Error(`not every app was rebased: ${r.summary}`);

    // The peer: every app rebuilt on the new run image through the push pipeline.
    const t1 = Date.now();
    for (let i = 0; i < n; i++) {
      await run(
        'git',
        [
          '-c',
          'user.email=bench@example.com',
          '-c',
          'user.name=Bench',
          'commit',
          '-q',
          '--allow-empty',
          '-m',
          'rebuild',
        ],
        { cwd: repos[i] },
      );
      await platform.push(repos[i], apps[i]);
    }
    const rebuildAllMs = Date.now() - t1;
    ctx.log(`rebuild of ${n} apps: ${rebuildAllMs} ms`);
    return {
      apps: n,
      app: 'bench/apps/tiny (perl, Procfile)',
      rebase_all_ms: rebaseAllMs,
      rebase_per_app_ms: summarize(rebased.map((x) => x.ms)),
      rebase_platform_per_app_ms: summarize(rebased.map((x) => x.platformMs ?? NaN)),
      rebuild_all_ms: rebuildAllMs,
      rebase_vs_rebuild_ratio: ratio(rebaseAllMs, rebuildAllMs),
      load_during_rebase: loadStats(records),
      concurrency: `rebase: ${process.env.SLIPWAY_STACK_REBASE_CONCURRENCY ?? 'default (8)'} apps at a time (SLIPWAY_STACK_REBASE_CONCURRENCY); rebuilds: one build at a time (SLIPWAY_BUILD_CONCURRENCY=1 in the bench server)`,
      loadavg_1m: [load0],
    };
  } finally {
    await platform.stop();
  }
}
