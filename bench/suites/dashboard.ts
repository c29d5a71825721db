import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SuiteContext } from '../suites';
import { summarize } from '../lib/stats';
import { get, loadavg, startBenchPlatform, type BenchPlatform } from '../lib/platform';
import { RUN_LABEL, docker } from '../lib/peer-run';
import { launchChromium } from '../../test/browser/chromium';
import { openState } from '../../server/state';
import { createMetricsRepo } from '../../server/state/repos/metrics';
import { createMetrics } from '../../server/metrics';
import { createDynoSampler } from '../../server/metrics/dyno-sampler';
import Docker from 'dockerode';

/**
 * `dashboard` (issue 21):
 *  - time to interactive of the apps list and of an app page in headless Chromium on loopback,
 *    with 50 apps (5 in --quick) that have an hour of router traffic behind them (goal ≤ 500 ms);
 *  - router throughput with the server's metrics on vs off (goal ≥ 0.97×): two platforms side by
 *    side (SLIPWAY_METRICS=0 on one), the same closed-loop load (32 connections) through each
 *    router in alternating turns, medians compared; and the server's CPU while it ingests the
 *    access log (on a shared machine the throughput ratio is noisy, the CPU difference less so);
 *  - the metrics' own cost: ingesting 5k router lines/s for 50 apps in-process (CPU % of one core),
 *    and one Docker sampling round over 50 dyno-like containers (3 in --quick).
 * Apps are created through the API but not built: the router is pointed at a keep-alive Node
 * backend through run/routes.json, so the suite needs no builds and --quick stays cheap.
 */
const BACKEND_SRC = `
const http = require('http');
const s = http.createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end('ok\\n'); });
s.keepAliveTimeout = 30000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
setInterval(() => { try { process.kill(Number(process.argv[1]), 0); } catch { process.exit(0); } }, 1000);
`;

const LOAD_SRC = `
const http = require('http');
const [port, host, conc, ms] = [Number(process.argv[1]), process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
let ok = 0, bad = 0; const end = Date.now() + ms;
function loop() {
  if (Date.now() >= end) return;
  http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => { res.resume(); res.on('end', () => { res.statusCode === 200 ? ok++ : bad++; loop(); }); })
    .on('error', () => { bad++; setTimeout(loop, 5); });
}
for (let i = 0; i < conc; i++) loop();
setTimeout(() => { process.stdout.write(JSON.stringify({ ok, bad, ms })); process.exit(0); }, ms + 200);
`;

function child(
  src: string,
  args: string[],
): { proc: ReturnType<typeof spawn>; firstLine: Promise<string>; out: Promise<string> } {
  const proc = spawn(process.execPath, ['-e', src, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  let resolveLine: (l: string) => void;
  const firstLine = new Promise<string>((r) => (resolveLine = r));
  proc.stdout!.on('data', (d) => {
    buf += d;
    if (buf.includes('\n')) resolveLine(buf.split('\n')[0]);
  });
  const out = new Promise<string>((r) => proc.on('close', () => r(buf)));
  return { proc, firstLine, out };
}

/** utime + stime of a process in seconds (/proc/PID/stat). */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) in clock ticks; Linux's USER_HZ is 100.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Points the router at the backend for APP (the server publishes nothing more: no app is deployed). */
function routeTo(platform: BenchPlatform, app: string, backendPort: number): void {
  const doc = {
    version: 1,
    generatedAt: new Date().toISOString(),
    apps: {
      [app]: {
        hosts: [platform.host(app)],
        maintenance: false,
        httpsOnly: false,
        webQuantity: 1,
        backends: [{ dyno: 'web.1', url: `http://127.0.0.1:${backendPort}`, release: 1 }],
      },
    },
    certificates: [],
  };
  const tmp = `${platform.server.paths.routesFile}.bench`;
  fs.writeFileSync(tmp, JSON.stringify(doc));
  fs.renameSync(tmp, platform.server.paths.routesFile);
}

async function waitRouted(platform: BenchPlatform, app: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if ((await get(platform.server.httpPort, platform.host(app), 2000)).status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the router never routed ${app}`);
}

/** An hour of synthetic access-log history, one line per app per minute (kept under the tail's 1 MB catch-up). */
function writeHistory(platform: BenchPlatform, apps: string[]): void {
  const now = Date.now();
  const lines: string[] = [];
  for (let m = 59; m >= 0; m -= 2) {
    for (const app of apps) {
      const t = new Date(now - m * 60_000).toISOString();
      lines.push(
        `${t} ${app} at=info method=GET path="/" host=${app}.localhost request_id=x fwd="127.0.0.1" dyno=web.1 connect=0ms service=${(m % 7) + 2}ms status=200 bytes=120 protocol=http`,
      );
    }
  }
  fs.appendFileSync(path.join(platform.server.paths.logs, 'router-access.log'), lines.join('\n') + '\n');
}

async function tti(platform: BenchPlatform, app: string, appCount: number, iterations: number, ctx: SuiteContext) {
  const res = await fetch(`${platform.server.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: platform.server.token }),
  });
  const cookie = /slipway_session=([^;]+)/.exec(String(res.headers.get('set-cookie')))![1];
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name: 'slipway_session', value: cookie, url: platform.server.url }]);
    const page = await context.newPage();
    const list: number[] = [];
    const appPage: number[] = [];
    // One warm-up load (the browser's first start and cache), then measured loads.
    for (let i = 0; i <= iterations; i++) {
      await page.goto(`${platform.server.url}/`);
      const t = await page.waitForFunction(
        (n) => document.querySelectorAll('table.apps tbody tr').length === n && performance.now(),
        appCount,
        { timeout: 30_000 },
      );
      if (i > 0) list.push(Math.round(Number(await t.jsonValue())));
      await page.goto(`${platform.server.url}/apps/${app}`);
      const u = await page.waitForFunction(
        () =>
          document.querySelector('[data-app-page] tr[data-ptype], [data-app-page] .card p.muted') &&
          document.querySelector('[data-app-page] .card') &&
          performance.now(),
        undefined,
        { timeout: 30_000 },
      );
      if (i > 0) appPage.push(Math.round(Number(await u.jsonValue())));
    }
    ctx.log(
      `time to interactive: apps list (${appCount} apps) ${JSON.stringify(summarize(list))} ms, app page ${JSON.stringify(summarize(appPage))} ms`,
    );
    return { apps_list_tti_ms: summarize(list), app_page_tti_ms: summarize(appPage) };
  } finally {
    await browser.close();
  }
}

/** Closed-loop load through each platform's router in turns; the servers' CPU meanwhile. */
async function throughput(
  on: BenchPlatform,
  off: BenchPlatform,
  app: string,
  rounds: number,
  ms: number,
  ctx: SuiteContext,
) {
  const pidOf = (p: BenchPlatform) => Number(fs.readFileSync(path.join(p.server.paths.run, 'test-server.pid'), 'utf8'));
  const result: Record<'on' | 'off', { rps: number[]; serverCpuPct: number[] }> = {
    on: { rps: [], serverCpuPct: [] },
    off: { rps: [], serverCpuPct: [] },
  };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first: load from the rest of the machine drifts between runs.
    const order =
      r % 2
        ? ([
            ['off', off],
            ['on', on],
          ] as const)
        : ([
            ['on', on],
            ['off', off],
          ] as const);
    for (const [name, p] of order) {
      const pid = pidOf(p);
      const c0 = cpuSeconds(pid);
      const t0 = Date.now();
      const load = child(LOAD_SRC, [String(p.server.httpPort), p.host(app), '32', String(ms)]);
      const out = JSON.parse(await load.out) as { ok: number; bad: number };
      // Let the server finish tailing what the router wrote during the run.
      await new Promise((res) => setTimeout(res, 600));
      const cpu = cpuSeconds(pid) - c0;
      result[name].rps.push(Math.round(out.ok / (ms / 1000)));
      result[name].serverCpuPct.push(Math.round((cpu / ((Date.now() - t0) / 1000)) * 1000) / 10);
      ctx.log(
        `router throughput, metrics ${name}: ${Math.round(out.ok / (ms / 1000))} req/s (${out.bad} failed), server CPU ${result[name].serverCpuPct.at(-1)} %`,
      );
    }
  }
  const med = (a: number[]) => summarize(a).median;
  // Each round's on/off pair ran back to back: the median of the pairs' ratios is robust to the
  // machine's load drifting between rounds, where the ratio of the two medians is not.
  const paired = result.on.rps.map((v, i) => Math.round((v / result.off.rps[i]) * 1000) / 1000);
  return {
    router_throughput_paired_ratio: summarize(paired),
    router_rps_metrics_on: summarize(result.on.rps),
    router_rps_metrics_off: summarize(result.off.rps),
    router_throughput_ratio: Math.round((med(result.on.rps) / med(result.off.rps)) * 1000) / 1000,
    server_cpu_pct_metrics_on: summarize(result.on.serverCpuPct),
    server_cpu_pct_metrics_off: summarize(result.off.serverCpuPct),
  };
}

/** In-process: 50 apps × 100 lines/s for `seconds` simulated seconds through the aggregator and SQLite. */
function ingestCost(seconds: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-metrics-'));
  try {
    const state = openState({ dbFile: path.join(dir, 's.db'), keyFile: path.join(dir, 'k') });
    const owner = state.users.create('bench@example.com', true);
    const apps = Array.from(
      { length: 50 },
      (_, i) => state.apps.create({ name: `busy-${i}`, ownerId: owner.id, stack: 'bookworm' }).name,
    );
    const m = createMetrics({
      repo: createMetricsRepo(state.db),
      appId: (n) => state.apps.get(n)?.id,
      settings: { enabled: true, dynoSampleMs: 10_000, flushMs: 10_000 },
    });
    const start = Date.now() - seconds * 1000;
    const c0 = process.cpuUsage();
    let lines = 0;
    for (let s = 0; s < seconds; s++) {
      const t = new Date(start + s * 1000);
      for (let k = 0; k < 100; k++) {
        for (const app of apps) {
          m.recordRouterLine(
            app,
            t,
            `at=info method=GET path="/x" host=${app}.localhost request_id=r fwd="127.0.0.1" dyno=web.1 connect=0ms service=${(k % 50) + 1}ms status=${k % 20 ? 200 : 404} bytes=512 protocol=http`,
          );
          lines++;
        }
      }
      if (s % 10 === 9) m.flush();
    }
    m.maintain();
    const used = process.cpuUsage(c0);
    const cpuS = (used.user + used.system) / 1e6;
    state.db.close();
    return {
      lines,
      cpu_s: Math.round(cpuS * 1000) / 1000,
      us_per_line: Math.round((cpuS / lines) * 1e7) / 10,
      core_pct_at_5k_rps: Math.round((cpuS / seconds) * 1000) / 10,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One sampling round (container list + one-shot stats each) over `count` dyno-like containers. */
async function samplingCost(count: number, ctx: SuiteContext) {
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      ids.push(
        await docker(
          'run',
          '-d',
          '--rm',
          '--label',
          RUN_LABEL,
          '--label',
          'io.slipway.managed=true',
          '--label',
          `io.slipway.app=bench-sample-${i}`,
          '--label',
          'io.slipway.process=web',
          '--network',
          'none',
          'slipway/bookworm-run:latest',
          'sleep',
          '600',
        ),
      );
    }
    const sampler = createDynoSampler({ docker: new Docker() });
    await sampler.sample(); // baseline readings
    const times: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < 3; r++) {
      const c0 = process.cpuUsage();
      const t0 = Date.now();
      const got = (await sampler.sample()).filter((s) => s.app.startsWith('bench-sample-'));
      times.push(Date.now() - t0);
      const u = process.cpuUsage(c0);
      cpu.push((u.user + u.system) / 1000);
      if (got.length !== count) ctx.log(`sampled ${got.length} of ${count} containers`);
    }
    const cpuMs = summarize(cpu).median;
    ctx.log(
      `dyno sampling: ${count} containers in ${summarize(times).median} ms wall, ${cpuMs} ms CPU per round (every 10 s: ${Math.round((cpuMs / 10_000) * 1000) / 10} % of a core)`,
    );
    return {
      containers: count,
      round_wall_ms: summarize(times),
      round_cpu_ms: summarize(cpu),
      core_pct_every_10s: Math.round((cpuMs / 10_000) * 1000) / 10,
    };
  } finally {
    if (ids.length) await docker('rm', '-f', ...ids).catch(() => '');
  }
}

export async function runDashboardSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const appCount = ctx.quick ? 5 : 50;
  let on: BenchPlatform | undefined;
  let off: BenchPlatform | undefined;
  const backend = child(BACKEND_SRC, [String(process.pid)]);
  try {
    on = await startBenchPlatform();
    off = await startBenchPlatform({ env: { SLIPWAY_METRICS: '0' } });
    const backendPort = Number(await backend.firstLine);
    const apps = Array.from({ length: appCount }, (_, i) => `bench-dash-${String(i).padStart(2, '0')}`);
    for (const a of apps) await on.createApp(a);
    await off.createApp(apps[0]);
    writeHistory(on, apps);
    for (const p of [on, off]) {
      routeTo(p, apps[0], backendPort);
      await waitRouted(p, apps[0]);
    }
    const page = await tti(on, apps[0], appCount, ctx.quick ? 1 : 5, ctx);
    const tp = await throughput(on, off, apps[0], ctx.quick ? 1 : 8, ctx.quick ? 2000 : 4000, ctx);
    const ingest = ingestCost(ctx.quick ? 5 : 60);
    ctx.log(
      `metrics ingestion: ${ingest.us_per_line} µs per router line; 50 apps at 5k req/s cost ${ingest.core_pct_at_5k_rps} % of one core`,
    );
    const sampling = await samplingCost(ctx.quick ? 3 : 50, ctx);
    return {
      apps: appCount,
      ...page,
      ...tp,
      ingest,
      sampling,
      goals: { tti_ms: 500, router_throughput_ratio: 0.97, metrics_core_pct: 2 },
      loadavg_1m: loadavg(),
    };
  } finally {
    backend.proc.kill();
    await on?.stop();
    await off?.stop();
  }
}
