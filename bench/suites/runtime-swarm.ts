import type { SuiteContext } from '../suites';
import { loadStats, startLoad } from '../lib/load';
import { ratio, summarize } from '../lib/stats';
import { EXPRESS_DIR, editOneLine, get, loadavg, startBenchPlatform, waitForNew200 } from '../lib/platform';
import { ensureSwarm } from '../../test/helpers/swarm';
import { freePort } from '../../test/helpers/server';

/**
 * `runtime-swarm` (issue 23): the Swarm driver against the Docker driver on this machine, the
 * same Express app on two platforms that differ only in SLIPWAY_RUNTIME, alternating:
 * push-to-live warm (a one-line change, from `git push` to the first 200 of the new release
 * through the router; goal ≤ 1.3× Docker's) and deploys under load (config:set releases under
 * 50 req/s through the router; goal 0 failed requests). A single-node swarm is made when the
 * engine is in none, and left afterwards.
 */
type Kind = 'docker' | 'swarm';

export async function runRuntimeSwarmSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const swarm = ensureSwarm();
  const warm: Record<Kind, number[]> = { docker: [], swarm: [] };
  const underLoad: Record<Kind, unknown> = { docker: undefined, swarm: undefined };
  const deploys = ctx.quick ? 3 : 5;
  const load: number[] = [loadavg()];
  const platforms = {
    docker: await startBenchPlatform({ env: { SLIPWAY_RUNTIME: 'docker' } }),
    // With the platform registry the swarm runtime implies, on a free port: every release is
    // pushed to it and the tasks run its reference (what a multi-node swarm does).
    swarm: await startBenchPlatform({
      env: { SLIPWAY_RUNTIME: 'swarm', SLIPWAY_REGISTRY_ADDR: `127.0.0.1:${await freePort()}` },
    }),
  };
  try {
    const apps = {} as Record<Kind, { app: string; repo: string; host: string; port: number }>;
    for (const kind of ['docker', 'swarm'] as Kind[]) {
      const p = platforms[kind];
      const app = `bench-rt-${kind}-${process.pid % 10000}`;
      await p.createApp(app);
      const repo = await p.initRepo(app, EXPRESS_DIR);
      await p.push(repo, app);
      await waitForNew200(p.server.httpPort, p.host(app), undefined, 5 * 60_000);
      apps[kind] = { app, repo, host: p.host(app), port: p.server.httpPort };
    }
    for (let i = 0; i < ctx.iterations; i++) {
      for (const kind of ['docker', 'swarm'] as Kind[]) {
        const { app, repo, host, port } = apps[kind];
        const before = (await get(port, host)).body;
        editOneLine(repo, i + 1);
        await platforms[kind].commitAll(repo, `edit ${i + 1}`);
        const t = Date.now();
        await platforms[kind].push(repo, app);
        await waitForNew200(port, host, before, 5 * 60_000);
        warm[kind].push(Date.now() - t);
      }
      ctx.log(`iteration ${i + 1}: warm docker ${warm.docker[i]} ms, swarm ${warm.swarm[i]} ms`);
    }
    load.push(loadavg());
    for (const kind of ['docker', 'swarm'] as Kind[]) {
      const { app, host, port } = apps[kind];
      let body = (await get(port, host)).body;
      const run = await startLoad(port, host, 50);
      const from = Date.now();
      try {
        for (let n = 1; n <= deploys; n++) {
          await platforms[kind].api('PATCH', `/apps/${app}/config`, { BENCH_RELEASE: String(n) });
          body = await waitForNew200(port, host, body, 3 * 60_000);
          await new Promise((r) => setTimeout(r, 2000));
        }
        // Old dynos drain after the switch: keep the load on until the last one is gone.
        await new Promise((r) => setTimeout(r, 6000));
      } finally {
        const records = await run.stop();
        underLoad[kind] = { deploys, ...loadStats(records, from) };
      }
      ctx.log(`${kind}: ${JSON.stringify(underLoad[kind])}`);
    }
    load.push(loadavg());
  } finally {
    await platforms.docker.stop();
    await platforms.swarm.stop();
    swarm.leave();
  }
  const w = { docker_ms: summarize(warm.docker), swarm_ms: summarize(warm.swarm) };
  return {
    app: 'bench/apps/express',
    warm: w,
    warm_ratio_swarm_vs_docker: ratio(w.swarm_ms.median, w.docker_ms.median),
    deploy_under_load: underLoad,
    failed_requests: {
      docker: (underLoad.docker as { failed_requests: number }).failed_requests,
      swarm: (underLoad.swarm as { failed_requests: number }).failed_requests,
    },
    swarm: swarm.initialised ? 'single-node swarm made for the run (advertise 127.0.0.1)' : 'existing swarm',
    loadavg_1m: load,
  };
}
