import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { SuiteContext } from '../suites';
import { rebase } from '../../buildpacks/lifecycle';
import { readImage } from '../../buildpacks/lifecycle/analyze';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { round, summarize, timeIt } from '../lib/stats';
import { createBenchHome, slipwayBuild } from '../lib/slipway-build';
import { TINY_DIR, loadavg } from '../lib/platform';
import { removeDockerObjects } from '../../test/helpers/server';

/**
 * `rebase`: an app image moved onto an updated run image by the lifecycle's `rebase()` (app
 * layers kept, a new config and manifest written) against rebuilding the app on that run image:
 * a full rebuild (empty build cache, no previous image) and, for reference, a cached rebuild
 * (previous image and build cache kept, as `git push` of an unchanged app would do). The
 * "updated run image" is the stack run image plus one small extra layer, written to the store
 * and tagged stacks/bookworm-run:bench-update-N (and then as stacks/bookworm-run:latest, so the
 * rebuilds build on it too). Full mode: the Express app; quick mode: the tiny perl app.
 */
async function updatedRunImage(store: ImageStore, n: number): Promise<string> {
  const base = await readImage(store, 'stacks/bookworm-run:latest');
  if (!base) throw new Error('stacks/bookworm-run:latest is not in the bench store');
  const p = pack();
  p.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  p.entry(
    { name: 'etc/slipway-bench-update', mode: 0o644, mtime: new Date(0) },
    `simulated security update ${n} ${Date.now()}\n`,
  );
  p.finalize();
  const layer = await store.putLayer(p as unknown as Readable);
  const layers = base.manifest.layers.map((d, i) => ({ descriptor: d, diffId: base.config.rootfs.diff_ids[i] }));
  const config = {
    ...base.config,
    history: [...(base.config.history ?? []), { created_by: `slipway bench: update ${n}` }],
  };
  const img = await store.writeImage(config, [...layers, layer]);
  const ref = `stacks/bookworm-run:bench-update-${n}`;
  await store.tag(ref, img.manifest);
  return ref;
}

export async function runRebaseSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const rebaseMs: number[] = [];
  const fullMs: number[] = [];
  const cachedMs: number[] = [];
  const load: number[] = [];
  for (let i = 0; i < ctx.iterations; i++) {
    const home = await createBenchHome('rebase');
    try {
      if (ctx.quick) {
        fs.rmSync(home.src, { recursive: true, force: true });
        fs.cpSync(TINY_DIR, home.src, { recursive: true });
      }
      load.push(loadavg());
      const first = await slipwayBuild(home);
      const runRef = await updatedRunImage(home.store, i);
      const rebased = await timeIt(() =>
        rebase({
          store: home.store,
          imageRef: first.imageRef,
          newRunImageRef: runRef,
          outRef: `apps/bench-app:rebased-${i}`,
        }),
      );
      rebaseMs.push(rebased.ms);
      // The rebased image really sits on the new run image: its last run layer is the extra one.
      const out = await readImage(home.store, `apps/bench-app:rebased-${i}`);
      const newRun = await readImage(home.store, runRef);
      const top = newRun!.config.rootfs.diff_ids.at(-1)!;
      if (!out!.config.rootfs.diff_ids.includes(top))
        throw new Error('the rebased image does not contain the updated run image layer');

      await home.store.tag('stacks/bookworm-run:latest', (await home.store.resolve(runRef))!);
      cachedMs.push((await timeIt(() => slipwayBuild(home, first))).ms);
      const emptyCache = path.join(home.dir, `cache-empty-${i}`);
      fs.mkdirSync(emptyCache);
      fullMs.push((await timeIt(() => slipwayBuild({ ...home, cache: emptyCache }))).ms);
      ctx.log(
        `iteration ${i + 1}: rebase ${Math.round(rebased.ms)} ms, cached rebuild ${Math.round(cachedMs[i])} ms, full rebuild ${Math.round(fullMs[i])} ms`,
      );
    } finally {
      await removeDockerObjects(home.dir);
      home.cleanup();
    }
  }
  const r = summarize(rebaseMs);
  const f = summarize(fullMs);
  const c = summarize(cachedMs);
  return {
    app: ctx.quick ? 'bench/apps/tiny (perl, Procfile)' : 'bench/apps/express',
    rebase_ms: r,
    full_rebuild_ms: f,
    cached_rebuild_ms: c,
    // Five decimals: a rebase takes milliseconds, a rebuild seconds.
    rebase_vs_rebuild_ratio: round(r.median / f.median, 5),
    rebase_vs_cached_rebuild_ratio: round(r.median / c.median, 5),
    loadavg_1m: load,
  };
}
