import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { SuiteContext } from '../suites';
import { round } from '../lib/stats';
import { loadavg, startBenchPlatform } from '../lib/platform';

const run = promisify(execFile);

/**
 * `addons` (docs/addons.md, docs/benchmarks.md): with the service images cached,
 *  - create_to_answer_ms: POST /apps/APP/addons (postgres) until the app, through the router,
 *    answers with data it wrote through DATABASE_URL (goal ≤ 10 s): the service's start and
 *    first-start initialisation, the health check and the config release's rollout;
 *  - idle memory of a PostgreSQL and a Redis service (docker stats, after 5 s idle);
 *  - pgbench (TPC-B-like read/write) from a client container on the app's network (where dynos
 *    are) against a `large` service, vs the same pgbench against a PostgreSQL of the same major
 *    running directly on the host (Debian's postgresql-15 binaries) with the plan's settings.
 *    The host one is reached from a client container on the host network: dynos cannot reach
 *    host ports (host firewall, docs/security.md). Ratio goal ≥ 0.9.
 * --quick: 3 s of pgbench at scale 1 (full: 20 s at scale 10, 4 clients); the host comparison
 * runs when the postgresql-15 binaries are installed.
 */
const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'apps', 'addons-app');
const HOST_PG = '/usr/lib/postgresql/15/bin';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function get(
  port: number,
  host: string,
  pathName: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: pathName, headers: { host }, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

async function until(
  port: number,
  host: string,
  pathName: string,
  want: (b: string) => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await get(port, host, pathName, 2000);
      if (r.status === 200 && want(r.body)) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${host}${pathName} never answered as wanted`);
}

const tps = (out: string) => Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);

async function memMiB(container: string): Promise<number> {
  const out = (await run('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', container])).stdout.trim();
  const m = /^([\d.]+)\s*([KMG]i?B)/.exec(out);
  if (!m) return NaN;
  const n = Number(m[1]);
  return round(m[2].startsWith('G') ? n * 1024 : m[2].startsWith('K') ? n / 1024 : n, 1);
}

/** A PostgreSQL 15 on the host (not in a container), as user postgres, with the plan's settings. */
async function startHostPg(dir: string, settings: string[]): Promise<{ port: number; child: ChildProcess }> {
  fs.mkdirSync(dir, { recursive: true });
  await run('chown', ['postgres:postgres', dir]);
  const as = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', cmd, ...args]);
  await as(`${HOST_PG}/initdb`, [
    '-D',
    path.join(dir, 'data'),
    '-U',
    'postgres',
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C.UTF-8',
  ]);
  const port = await freePort();
  // setpriv execs (no parent left behind), so the signal that stops it reaches postgres itself.
  const child = spawn(
    'setpriv',
    [
      '--reuid=postgres',
      '--regid=postgres',
      '--init-groups',
      `${HOST_PG}/postgres`,
      '-D',
      path.join(dir, 'data'),
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      ...settings.flatMap((s) => ['-c', s]),
    ],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i++) {
    if (
      await run(`${HOST_PG}/pg_isready`, ['-h', '127.0.0.1', '-p', String(port)]).then(
        () => true,
        () => false,
      )
    )
      return { port, child };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill();
  throw new Error('the host PostgreSQL did not start');
}

export async function runAddonsSuite(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const platform = await startBenchPlatform();
  const seconds = ctx.quick ? 3 : 20;
  const scale = ctx.quick ? '1' : '10';
  let hostPg: { port: number; child: ChildProcess } | undefined;
  let hostDir: string | undefined;
  try {
    const app = `bench-addons-${process.pid % 10000}`;
    const host = platform.host(app);
    await platform.createApp(app);
    const repo = await platform.initRepo(app, FIXTURE);
    await platform.push(repo, app);
    await until(platform.server.httpPort, host, '/', (b) => b.includes('"hasDb":false'), 5 * 60_000);
    ctx.log('app deployed (pg + redis npm packages)');

    // Time to the app answering with a database: create + release + the app's first write/read.
    const t0 = Date.now();
    const pg = await platform.api<{ name: string; release?: number }>('POST', `/apps/${app}/addons`, {
      kind: 'postgres',
    });
    const createMs = Date.now() - t0;
    await until(platform.server.httpPort, host, '/set?v=bench', (b) => b.includes('"pg":"bench"'), 120_000);
    const createToAnswerMs = Date.now() - t0;
    ctx.log(`addons:create postgres: API ${createMs} ms, app answering with it after ${createToAnswerMs} ms`);

    const rd = await platform.api<{ name: string }>('POST', `/apps/${app}/addons`, { kind: 'redis' });
    await new Promise((r) => setTimeout(r, 5000));
    const container = async (name: string) =>
      (
        await run('docker', [
          'ps',
          '-q',
          '--filter',
          `label=io.slipway.home=${platform.server.home}`,
          '--filter',
          `label=io.slipway.addon=${name}`,
        ])
      ).stdout.trim();
    const pgMem = await memMiB(await container(pg.name));
    const rdMem = await memMiB(await container(rd.name));
    ctx.log(`idle memory: postgres ${pgMem} MiB, redis ${rdMem} MiB`);

    // pgbench: a large-plan service (2 CPUs, 4 GB: the whole of a small machine) vs the host.
    const big = await platform.api<{ name: string }>('POST', `/apps/${app}/addons`, {
      kind: 'postgres',
      plan: 'large',
      as: 'BENCH_DB',
    });
    const config = await platform.api<Record<string, string>>('GET', `/apps/${app}/config`);
    const url = new URL(config.BENCH_DB_URL);
    const bigId = await container(big.name);
    const image = (await run('docker', ['inspect', '-f', '{{.Config.Image}}', bigId])).stdout.trim();
    const network = (
      await run('docker', ['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', bigId])
    ).stdout
      .trim()
      .split(' ')[0];
    const pgbench = async (netArgs: string[], conn: string[], env: string[]) => {
      const base = [
        'run',
        '--rm',
        '--label',
        `io.slipway.home=${platform.server.home}`,
        ...netArgs,
        ...env.flatMap((e) => ['-e', e]),
        image,
      ];
      await run('docker', [...base, 'pgbench', '-i', '-q', '-s', scale, ...conn], { timeout: 10 * 60_000 });
      const out = await run(
        'docker',
        [...base, 'pgbench', '-c', '4', '-j', '2', '-T', String(seconds), '-n', ...conn],
        { timeout: 10 * 60_000 },
      );
      return tps(out.stdout);
    };
    // The entry point of the service image is the server: pgbench needs its own.
    const clientNet = ['--network', network, '--entrypoint', ''];
    const serviceTps = await pgbench(
      clientNet,
      ['-h', big.name, '-U', url.username, 'app'],
      [`PGPASSWORD=${url.password}`],
    );
    ctx.log(`pgbench from the app's network against the service: ${serviceTps} tps`);

    let hostTps: number | null = null;
    let hostNote = '';
    if (fs.existsSync(`${HOST_PG}/postgres`)) {
      // Outside the test home (0700): the postgres user must reach it.
      hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-pg-'));
      fs.chmodSync(hostDir, 0o755);
      hostPg = await startHostPg(hostDir, ['shared_buffers=1024MB', 'max_connections=200']);
      await run('runuser', [
        '-u',
        'postgres',
        '--',
        `${HOST_PG}/createdb`,
        '-h',
        '127.0.0.1',
        '-p',
        String(hostPg.port),
        'app',
      ]);
      hostTps = await pgbench(
        ['--network', 'host', '--entrypoint', ''],
        ['-h', '127.0.0.1', '-p', String(hostPg.port), '-U', 'postgres', 'app'],
        [],
      );
      ctx.log(`pgbench from the host network against a host PostgreSQL: ${hostTps} tps`);
    } else hostNote = `no ${HOST_PG}/postgres (apt-get install postgresql-15) : host comparison skipped`;

    return {
      create_api_ms: createMs,
      create_to_answer_ms: createToAnswerMs,
      create_to_answer_goal_ms: 10_000,
      postgres_idle_mib: pgMem,
      redis_idle_mib: rdMem,
      pgbench_seconds: seconds,
      pgbench_scale: Number(scale),
      pgbench_service_tps: round(serviceTps, 1),
      pgbench_host_tps: hostTps === null ? null : round(hostTps, 1),
      pgbench_ratio: hostTps ? round(serviceTps / hostTps, 2) : null,
      pgbench_ratio_goal: 0.9,
      ...(hostNote ? { note: hostNote } : {}),
      loadavg_1m: loadavg(),
    };
  } finally {
    if (hostPg) {
      const exited = new Promise((r) => hostPg!.child.once('exit', r));
      hostPg.child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    if (hostDir) fs.rmSync(hostDir, { recursive: true, force: true });
    await platform.stop();
  }
}
