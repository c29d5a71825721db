import * as fs from 'node:fs';
import type { SuiteContext } from '../suites';
import { preparePeerContext, resolveNode } from '../lib/dockerfile-peer';
import { loadStats, startLoad, type LoadRecord } from '../lib/load';
import { benchTmpDir, cleanupPeers, docker, peerBuild, peerRun } from '../lib/peer-run';
import { EXPRESS_DIR, TINY_DIR, editOneLine, loadavg, startBenchPlatform, waitForNew200 } from '../lib/platform';
import { freePort } from '../../test/helpers/server';

/**
 * `deploy-under-load`: a fixed-rate load (bench/lib/load.ts) through the router during 10
 * consecutive deploys. Full mode: the Express app, each deploy a `git push` of a one-line change
 * (100 req/s). Quick mode: the tiny perl app, each deploy a `config:set` release (50 req/s).
 * Reported: failed requests (goal 0), p99 and max latency in the steady state before the deploys,
 * over the whole deploy phase, and in the cut-over windows (2 s before to 5 s after the new
 * release first answers). Peer: the naive redeploy of the same app with no proxy in front
 * (the load hits the published port directly): `docker stop old; docker rm old; docker run new`.
 */
const DEPLOYS = 10;

interface Phase {
  steadyFrom: number;
  deploysFrom: number;
  deploysTo: number;
  cutovers: number[];
}

function summarizeRun(records: LoadRecord[], p: Phase) {
  const inCutover = records.filter((r) => p.cutovers.some((t) => r.at >= t - 2000 && r.at < t + 5000));
  return {
    steady: loadStats(records, p.steadyFrom, p.deploysFrom),
    deploy_phase: loadStats(records, p.deploysFrom, p.deploysTo),
    cutover: loadStats(inCutover),
    deploys: p.cutovers.length,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDeployUnderLoadSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const rate = ctx.quick ? 50 : 100;
  const steadyMs = ctx.quick ? 8_000 : 30_000;
  const peerDeploys = ctx.quick ? 3 : DEPLOYS;
  const load: number[] = [loadavg()];

  // Slipway.
  const platform = await startBenchPlatform();
  let slipway: ReturnType<typeof summarizeRun>;
  try {
    const app = `bench-dul-${process.pid % 10000}`;
    await platform.createApp(app);
    const repo = await platform.initRepo(app, ctx.quick ? TINY_DIR : EXPRESS_DIR);
    const host = platform.host(app);
    const port = platform.server.httpPort;
    await platform.push(repo, app);
    let body = await waitForNew200(port, host, undefined, 5 * 60_000);
    const run = await startLoad(port, host, rate);
    const phase: Phase = { steadyFrom: Date.now(), deploysFrom: 0, deploysTo: 0, cutovers: [] };
    let records: LoadRecord[];
    try {
      await sleep(steadyMs);
      phase.deploysFrom = Date.now();
      for (let n = 1; n <= DEPLOYS; n++) {
        if (ctx.quick) {
          await platform.api('PATCH', `/apps/${app}/config`, { BENCH_RELEASE: String(n) });
        } else {
          editOneLine(repo, n);
          await platform.commitAll(repo, `edit ${n}`);
          await platform.push(repo, app);
        }
        body = await waitForNew200(port, host, body, 3 * 60_000);
        phase.cutovers.push(Date.now());
        ctx.log(`slipway deploy ${n}/${DEPLOYS} serving`);
        await sleep(2000);
      }
      // Old dynos drain after the switch: keep the load on until the last one is gone.
      await sleep(6000);
      phase.deploysTo = Date.now();
    } finally {
      records = await run.stop();
    }
    slipway = summarizeRun(records, phase);
    load.push(loadavg());
  } finally {
    await platform.stop();
  }

  // Peer: the same app (Dockerfile image, or the tiny app on the run image) redeployed naively.
  const peerDir = benchTmpDir('slipway-bench-dul-peer-');
  let peer: ReturnType<typeof summarizeRun>;
  try {
    const port = await freePort();
    let image: string;
    let opts: { volumes?: string[]; cmd?: string[]; workdir?: string } = {};
    if (ctx.quick) {
      image = 'slipway/bookworm-run:latest';
      fs.cpSync(TINY_DIR, peerDir, { recursive: true });
      fs.chmodSync(peerDir, 0o755);
      opts = { volumes: [`${peerDir}:/app:ro`], workdir: '/app', cmd: ['perl', 'web.pl'] };
    } else {
      image = `slipway-bench/dul:${process.pid}`;
      await preparePeerContext(EXPRESS_DIR, peerDir, await resolveNode('20.x'), true);
      await peerBuild(peerDir, image, false);
    }
    let container = await peerRun({ image, hostPort: port, env: { BENCH_RELEASE: '0' }, ...opts });
    let body = await waitForNew200(port, 'localhost', undefined, 60_000);
    const run = await startLoad(port, 'localhost', rate);
    const phase: Phase = { steadyFrom: Date.now(), deploysFrom: 0, deploysTo: 0, cutovers: [] };
    let records: LoadRecord[];
    try {
      await sleep(steadyMs);
      phase.deploysFrom = Date.now();
      for (let n = 1; n <= peerDeploys; n++) {
        await docker('stop', container);
        await docker('rm', '-f', container);
        container = await peerRun({ image, hostPort: port, env: { BENCH_RELEASE: String(n) }, ...opts });
        body = await waitForNew200(port, 'localhost', body, 60_000);
        phase.cutovers.push(Date.now());
        ctx.log(`peer deploy ${n}/${peerDeploys} serving`);
        await sleep(2000);
      }
      phase.deploysTo = Date.now();
    } finally {
      records = await run.stop();
    }
    peer = summarizeRun(records, phase);
    load.push(loadavg());
  } finally {
    await cleanupPeers();
    fs.rmSync(peerDir, { recursive: true, force: true });
  }

  return {
    app: ctx.quick
      ? 'bench/apps/tiny (perl), config:set releases'
      : 'bench/apps/express, git push of a one-line change',
    rate_per_s: rate,
    steady_seconds: steadyMs / 1000,
    failed_requests: slipway.deploy_phase.failed_requests,
    slipway,
    peer,
    peer_failed_requests: peer.deploy_phase.failed_requests,
    peer_note:
      'no proxy in front: the load hits the container port published on 127.0.0.1; redeploy = docker stop (10 s grace) + docker rm + docker run',
    cutover_p99_vs_steady_ratio: Math.round((slipway.cutover.p99_ms / slipway.steady.p99_ms) * 100) / 100,
    loadavg_1m: load,
  };
}
