import * as fs from 'node:fs';
import type { SuiteContext } from '../suites';
import { ratio, summarize } from '../lib/stats';
import { preparePeerContext, resolveNode, downloadRuntime } from '../lib/dockerfile-peer';
import { changeDependencies } from '../lib/slipway-build';
import { benchTmpDir, cleanupPeers, docker, peerBuild, peerRun, peerStop } from '../lib/peer-run';
import { EXPRESS_DIR, editOneLine, get, loadavg, startBenchPlatform, waitForNew200 } from '../lib/platform';
import { freePort } from '../../test/helpers/server';

/**
 * `push-to-live`: from starting `git push` to the first 200 of the new release through the
 * router, for the reference Express app: cold (a new app: empty build cache, stack present),
 * warm (one line changed) and after a dependency change. Peer: the hand-written Dockerfile,
 * `docker build` (cold: --no-cache, runtime tarballs downloaded on the host first) then
 * `docker rm -f` of the old container and `docker run -p 127.0.0.1:PORT` until the first 200
 * of the new container. Slipway and the peer alternate within each iteration.
 */
type Case = 'cold' | 'warm' | 'deps';

export async function runPushToLiveSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const times = { slipway: { cold: [], warm: [], deps: [] }, peer: { cold: [], warm: [], deps: [] } } as Record<
    'slipway' | 'peer',
    Record<Case, number[]>
  >;
  const versions = await resolveNode('20.x');
  const platform = await startBenchPlatform();
  const load: number[] = [];
  try {
    for (let i = 0; i < ctx.iterations; i++) {
      const app = `bench-ptl-${i}-${process.pid % 10000}`;
      await platform.createApp(app);
      const repo = await platform.initRepo(app, EXPRESS_DIR);
      const host = platform.host(app);
      const port = platform.server.httpPort;
      const peerDir = benchTmpDir('slipway-bench-ptl-peer-');
      const peerPort = await freePort();
      const peerTag = `slipway-bench/ptl:${process.pid}-${i}`;
      let peerContainer: string | undefined;
      try {
        const slipway = async (kind: Case) => {
          const before = kind === 'cold' ? undefined : (await get(port, host)).body;
          const t = Date.now();
          await platform.push(repo, app);
          await waitForNew200(port, host, before, 5 * 60_000);
          times.slipway[kind].push(Date.now() - t);
        };
        const peer = async (kind: Case) => {
          const before = peerContainer ? (await get(peerPort, 'localhost')).body : undefined;
          const t = Date.now();
          if (kind === 'cold') await downloadRuntime(peerDir, versions);
          await peerBuild(peerDir, peerTag, kind === 'cold');
          if (peerContainer) await fastRemove(peerContainer);
          peerContainer = await peerRun({ image: peerTag, hostPort: peerPort });
          await waitForNew200(peerPort, 'localhost', before, 5 * 60_000);
          times.peer[kind].push(Date.now() - t);
        };

        load.push(loadavg());
        await slipway('cold');
        await preparePeerContext(EXPRESS_DIR, peerDir, versions, false);
        await peer('cold');

        editOneLine(repo, i + 1);
        await platform.commitAll(repo, `edit ${i + 1}`);
        editOneLine(peerDir, i + 1);
        await slipway('warm');
        await peer('warm');

        // A dependency added; the message line changes too, so the new release is recognisable.
        changeDependencies(repo);
        editOneLine(repo, 100 + i);
        await platform.commitAll(repo, 'add a dependency');
        changeDependencies(peerDir);
        editOneLine(peerDir, 100 + i);
        await slipway('deps');
        await peer('deps');
        ctx.log(
          `iteration ${i + 1}: slipway cold ${times.slipway.cold[i]} warm ${times.slipway.warm[i]} deps ${times.slipway.deps[i]} ms; peer cold ${times.peer.cold[i]} warm ${times.peer.warm[i]} deps ${times.peer.deps[i]} ms`,
        );
      } finally {
        if (peerContainer) await peerStop(peerContainer).catch(() => undefined);
        fs.rmSync(peerDir, { recursive: true, force: true });
        await platform.api('DELETE', `/apps/${app}`).catch(() => undefined);
      }
    }
  } finally {
    await cleanupPeers();
    await platform.stop();
  }
  const s = (k: Case) => ({ slipway_ms: summarize(times.slipway[k]), peer_ms: summarize(times.peer[k]) });
  const out = { cold: s('cold'), warm: s('warm'), deps: s('deps') };
  return {
    app: 'bench/apps/express',
    node: versions,
    ...out,
    cold_ratio: ratio(out.cold.slipway_ms.median, out.cold.peer_ms.median),
    warm_ratio: ratio(out.warm.slipway_ms.median, out.warm.peer_ms.median),
    deps_ratio: ratio(out.deps.slipway_ms.median, out.deps.peer_ms.median),
    peer: 'Dockerfile (bench/lib/dockerfile-peer.ts): docker build, docker rm -f old, docker run -p 127.0.0.1:PORT, until the first 200 of the new container',
    loadavg_1m: load,
  };
}

/** The peer replaces its container at once (a user iterating locally would not wait 10 s). */
async function fastRemove(id: string): Promise<void> {
  await docker('rm', '-f', id);
}
