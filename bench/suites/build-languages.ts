import * as fs from 'node:fs';
import type { SuiteContext } from '../suites';
import { ratio, summarize, timeIt } from '../lib/stats';
import { benchTmpDir, cleanupPeers } from '../lib/peer-run';
import { dockerBuild, imageSize } from '../lib/dockerfile-peer';
import { LANGUAGE_APPS, writeLanguageApp, writeLanguagePeerContext } from '../lib/language-peers';
import { createBenchHome, slipwayBuild, slipwayImageSize } from '../lib/slipway-build';

/**
 * `build-languages`: the Ruby (Rack, gems from vendor/cache, one native), PHP (composer, path
 * repository, ext-bcmath) and Java (Maven, runnable jar) apps built cold (new app, empty caches)
 * and warm (one line of source changed) by Slipway's lifecycle and by a hand-written Dockerfile
 * on the same stack (bench/lib/language-peers.ts), plus both images' sizes. Targets (issue 16):
 * warm ≤ 1.0× the Dockerfile's; the Java image ≤ the Dockerfile's with a JRE.
 */
export async function runLanguageBuildSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  // BENCH_LANGUAGES=java,php: only those apps. Quick mode (CI, scripts/bench-quick.sh with its time
  // budget) builds only the Ruby app unless told otherwise: all three take about 9 minutes here.
  const only = process.env.BENCH_LANGUAGES?.split(',').filter(Boolean) ?? (ctx.quick ? ['ruby'] : undefined);
  for (const app of LANGUAGE_APPS.filter((a) => !only?.length || only.includes(a.name))) {
    const t = {
      slipway: { cold: [] as number[], warm: [] as number[] },
      peer: { cold: [] as number[], warm: [] as number[] },
    };
    let sizes = { slipway: 0, peer: 0 };
    const phases: Array<Record<string, number>> = [];
    for (let i = 0; i < ctx.iterations; i++) {
      const home = await createBenchHome(`lang-${app.name}`);
      const peerCtx = benchTmpDir(`slipway-bench-peer-${app.name}-`);
      const peerTag = `slipway-bench/peer-${app.name}:${process.pid}-${i}`;
      try {
        writeLanguageApp(app, home.src);
        writeLanguagePeerContext(app, peerCtx);
        const cold = await timeIt(() => slipwayBuild(home));
        t.slipway.cold.push(cold.ms);
        t.peer.cold.push((await timeIt(() => dockerBuild(peerCtx, peerTag, true))).ms);
        app.touch(home.src, i);
        app.touch(peerCtx, i);
        const warm = await timeIt(() => slipwayBuild(home, cold.value));
        t.slipway.warm.push(warm.ms);
        phases.push(warm.value.phaseTimings);
        t.peer.warm.push((await timeIt(() => dockerBuild(peerCtx, peerTag, false))).ms);
        if (i === 0) sizes = { slipway: await slipwayImageSize(home, warm.value), peer: await imageSize(peerTag) };
        ctx.log(
          `${app.name}: slipway cold ${Math.round(cold.ms)} ms warm ${Math.round(warm.ms)} ms; peer cold ${Math.round(t.peer.cold[i])} ms warm ${Math.round(t.peer.warm[i])} ms; images ${sizes.slipway} / ${sizes.peer} bytes`,
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
        await cleanupPeers();
      }
    }
    const s = (k: 'cold' | 'warm') => ({ slipway_ms: summarize(t.slipway[k]), peer_ms: summarize(t.peer[k]) });
    const r = { cold: s('cold'), warm: s('warm') };
    out[app.name] = {
      ...r,
      cold_ratio: ratio(r.cold.slipway_ms.median, r.cold.peer_ms.median),
      warm_ratio: ratio(r.warm.slipway_ms.median, r.warm.peer_ms.median),
      warm_phase_ms: Object.fromEntries(
        Object.keys(phases[0] ?? {}).map((k) => [k, summarize(phases.map((p) => p[k] ?? 0)).median]),
      ),
      image_bytes: sizes,
      image_size_ratio: ratio(sizes.slipway, sizes.peer),
    };
  }
  return out;
}

export const LANGUAGE_NAMES = LANGUAGE_APPS.map((a) => a.name);
