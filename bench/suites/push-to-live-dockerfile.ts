import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SuiteContext } from '../suites';
import { ratio, summarize } from '../lib/stats';
import { benchTmpDir, cleanupPeers, docker, peerBuild, peerRun } from '../lib/peer-run';
import { TINY_DIR, editOneLine, get, loadavg, startBenchPlatform, waitForNew200 } from '../lib/platform';
import { freePort } from '../../test/helpers/server';

/**
 * `push-to-live`, `dockerfile` case: the same Dockerfile (the tiny perl app on the stack run
 * image) pushed to Slipway (Dockerfile builder: engine build, copy into the store, release,
 * health check, routes) and built by hand with `docker build` + `docker rm -f` of the old
 * container + `docker run -p 127.0.0.1:PORT`, each until the first 200 of the new version.
 * cold: a new app, its own first line (no layer of it cached), the peer with --no-cache; warm: one
 * line changed. Slipway and the peer alternate within each iteration.
 */
const DOCKERFILE = `FROM slipway/bookworm-run:latest
WORKDIR /home/slipway/app
COPY web.pl .
EXPOSE 5000
CMD ["perl", "web.pl"]
`;

type Case = 'cold' | 'warm';

export async function runPushToLiveDockerfile(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const times = { slipway: { cold: [], warm: [] }, peer: { cold: [], warm: [] } } as Record<
    'slipway' | 'peer',
    Record<Case, number[]>
  >;
  const platform = await startBenchPlatform();
  const src = benchTmpDir('slipway-bench-ptl-df-src-');
  fs.copyFileSync(path.join(TINY_DIR, 'web.pl'), path.join(src, 'web.pl'));
  fs.writeFileSync(path.join(src, 'Dockerfile'), DOCKERFILE);
  const load: number[] = [];
  try {
    for (let i = 0; i < ctx.iterations; i++) {
      const app = `bench-ptldf-${i}-${process.pid % 10000}`;
      const unique = `${process.pid}-${Date.now()}-${i}`;
      editOneLine(src, Number(`${i}${Date.now() % 100000}`));
      fs.appendFileSync(path.join(src, 'web.pl'), `# ${unique}\n`);
      await platform.createApp(app);
      const repo = await platform.initRepo(app, src);
      const peerDir = benchTmpDir('slipway-bench-ptl-df-peer-');
      fs.cpSync(src, peerDir, { recursive: true });
      const host = platform.host(app);
      const port = platform.server.httpPort;
      const peerPort = await freePort();
      const peerTag = `slipway-bench/ptl-df:${process.pid}-${i}`;
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
          await peerBuild(peerDir, peerTag, kind === 'cold');
          if (peerContainer) await docker('rm', '-f', peerContainer);
          peerContainer = await peerRun({ image: peerTag, hostPort: peerPort });
          await waitForNew200(peerPort, 'localhost', before, 5 * 60_000);
          times.peer[kind].push(Date.now() - t);
        };
        load.push(loadavg());
        await slipway('cold');
        await peer('cold');
        editOneLine(repo, 1000 + i);
        await platform.commitAll(repo, `edit ${i}`);
        editOneLine(peerDir, 1000 + i);
        await slipway('warm');
        await peer('warm');
        ctx.log(
          `dockerfile iteration ${i + 1}: slipway cold ${times.slipway.cold[i]} warm ${times.slipway.warm[i]} ms; peer cold ${times.peer.cold[i]} warm ${times.peer.warm[i]} ms`,
        );
      } finally {
        if (peerContainer) await docker('rm', '-f', peerContainer).catch(() => undefined);
        fs.rmSync(peerDir, { recursive: true, force: true });
        await platform.api('DELETE', `/apps/${app}`).catch(() => undefined);
      }
    }
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
    await cleanupPeers();
    await platform.stop();
  }
  const s = (k: Case) => ({ slipway_ms: summarize(times.slipway[k]), peer_ms: summarize(times.peer[k]) });
  const out = { cold: s('cold'), warm: s('warm') };
  return {
    app: 'bench/apps/tiny with a Dockerfile (stack run image + perl)',
    ...out,
    cold_ratio: ratio(out.cold.slipway_ms.median, out.cold.peer_ms.median),
    warm_ratio: ratio(out.warm.slipway_ms.median, out.warm.peer_ms.median),
    peer: 'the same Dockerfile: docker build (cold: --no-cache), docker rm -f old, docker run -p 127.0.0.1:PORT, until the first 200 of the new container',
    loadavg_1m: load,
  };
}
