import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SuiteContext } from '../suites';
import { ratio, summarize, timeIt } from '../lib/stats';
import { benchTmpDir, cleanupPeers } from '../lib/peer-run';
import { dockerBuild, imageSize, preparePeerContext, resolveNode, downloadRuntime } from '../lib/dockerfile-peer';
import { runLangBuilds } from './build-langs';
import {
  changeDependencies,
  createBenchHome,
  slipwayBuild,
  slipwayImageSize,
  touchSource,
  APP_DIR,
} from '../lib/slipway-build';

/**
 * `build`: the reference Express app built cold (new app, empty caches, stack present), warm (one
 * line of source changed) and after a dependency change, by Slipway's lifecycle and by the
 * hand-written Dockerfile peer, alternating in the same run. Also returns the image sizes (the
 * `image-size` suite reports them) and Slipway's per-phase timings. Then a Python and a Go app
 * the same way (cold and warm against a hand-written Dockerfile each; see build-langs.ts).
 */
export async function runBuildSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const times = {
    slipway: { cold: [] as number[], warm: [] as number[], deps: [] as number[] },
    peer: { cold: [] as number[], warm: [] as number[], deps: [] as number[] },
  };
  const phases: Array<Record<string, number>> = [];
  let sizes = { slipway: 0, peer: 0 };
  const versions = await resolveNode('20.x');
  for (let i = 0; i < ctx.iterations; i++) {
    ctx.log(`iteration ${i + 1}/${ctx.iterations}`);
    const home = await createBenchHome('build');
    const peerCtx = benchTmpDir('slipway-bench-peer-');
    const peerTag = `slipway-bench/peer:${process.pid}-${i}`;
    try {
      // Cold.
      const cold = await timeIt(() => slipwayBuild(home));
      times.slipway.cold.push(cold.ms);
      await preparePeerContext(APP_DIR, peerCtx, versions, false);
      // The peer downloads Node and npm too (on the host, as a Dockerfile user would with curl).
      times.peer.cold.push(
        (
          await timeIt(async () => {
            await downloadRuntime(peerCtx, versions);
            await dockerBuild(peerCtx, peerTag, true);
          })
        ).ms,
      );

      // Warm: one line changed.
      touchSource(home.src, i);
      touchSource(peerCtx, i);
      const warm = await timeIt(() => slipwayBuild(home, cold.value));
      times.slipway.warm.push(warm.ms);
      phases.push(warm.value.phaseTimings);
      times.peer.warm.push((await timeIt(() => dockerBuild(peerCtx, peerTag, false))).ms);
      if (i === 0) sizes = { slipway: await slipwayImageSize(home, warm.value), peer: await imageSize(peerTag) };

      // A dependency added.
      changeDependencies(home.src);
      changeDependencies(peerCtx);
      times.slipway.deps.push((await timeIt(() => slipwayBuild(home, warm.value))).ms);
      times.peer.deps.push((await timeIt(() => dockerBuild(peerCtx, peerTag, false))).ms);
      ctx.log(
        `slipway cold ${Math.round(cold.ms)} ms warm ${Math.round(warm.ms)} ms; peer cold ${Math.round(times.peer.cold[i])} ms warm ${Math.round(times.peer.warm[i])} ms`,
      );
    } finally {
      home.cleanup();
      fs.rmSync(peerCtx, { recursive: true, force: true });
      await import('node:child_process').then(({ execFileSync }) => {
        try {
          execFileSync('docker', ['rmi', '-f', peerTag], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      });
      // Each rebuild under the same tag leaves the previous peer image dangling: remove them all.
      await cleanupPeers();
    }
  }
  const s = (k: 'cold' | 'warm' | 'deps') => ({
    slipway_ms: summarize(times.slipway[k]),
    peer_ms: summarize(times.peer[k]),
  });
  const out = { cold: s('cold'), warm: s('warm'), deps: s('deps') };
  const phaseMedians: Record<string, number> = {};
  for (const key of Object.keys(phases[0] ?? {})) phaseMedians[key] = summarize(phases.map((p) => p[key] ?? 0)).median;
  return {
    node: versions,
    ...out,
    cold_ratio: ratio(out.cold.slipway_ms.median, out.cold.peer_ms.median),
    warm_ratio: ratio(out.warm.slipway_ms.median, out.warm.peer_ms.median),
    deps_ratio: ratio(out.deps.slipway_ms.median, out.deps.peer_ms.median),
    warm_phase_ms: phaseMedians,
    image_bytes: sizes,
    image_size_ratio: ratio(sizes.slipway, sizes.peer),
    // The Python and Go apps (suites/build-langs.ts). They add minutes (a Go toolchain download and
    // standard library compile on each side), so CI's quick mode runs them only with BENCH_LANGS=1.
    ...(!ctx.quick || process.env.BENCH_LANGS === '1' ? await runLangBuilds(ctx) : {}),
  };
}
