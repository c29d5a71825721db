import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';
import { createUser } from './git-helpers';

/**
 * PostgreSQL and Redis add-ons through the real CLI against a real server and router: a Node app
 * using the `pg` and `redis` npm packages (downloaded by its build) is pushed once; real service
 * containers from the bookworm service images serve it (docs/addons.md).
 */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
const FIXTURE = path.resolve(DIST, '..', 'test', 'fixtures', 'apps', 'addons-app');
const APP = `addons-${randomBytes(3).toString('hex')}`;
let srv: TestServer;
let repo: string;
let env: NodeJS.ProcessEnv;
let pg: string;
let rd: string;

async function cli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: opts.env ?? env,
      cwd: opts.cwd ?? repo,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
async function ok(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Promise<string> {
  const r = await cli(args, opts);
  assert.equal(
    r.code,
    0,
    `slipway ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}\n${srv.output().slice(-2000)}`,
  );
  return r.stdout;
}
const json = async <T>(args: string[], e?: NodeJS.ProcessEnv, cwd?: string) =>
  JSON.parse(await ok([...args, '--json'], { env: e, cwd })) as T;

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
/** A request through the router (Host APP.localhost). */
function get(p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: srv.httpPort, path: p, headers: { host: `${APP}.localhost` }, agent, timeout: 10_000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
/** Retries GET p until the JSON answer satisfies want (after releases and restarts). */
async function until(
  p: string,
  want: (b: Record<string, unknown>) => boolean,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await get(p);
      last = `${r.status} ${r.body}`;
      if (r.status === 200) {
        const b = JSON.parse(r.body) as Record<string, unknown>;
        if (want(b)) return b;
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`GET ${p} never answered as wanted; last: ${last}`);
}
const docker = async (args: string[]) => (await exec('docker', args, { timeout: 60_000 })).stdout.trim();
const containerOf = async (name: string) =>
  docker(['ps', '-aq', '--filter', `label=io.slipway.home=${srv.home}`, '--filter', `label=io.slipway.addon=${name}`]);
interface Info {
  name: string;
  kind: string;
  health: { status: string; restarts: number };
  attachments: Array<{ app: string; configVar: string }>;
}

before(async () => {
  srv = await startTestServer({
    router: true,
    env: { SLIPWAY_BUILD_TIMEOUT_S: '600', SLIPWAY_ADDON_ROTATE_GRACE_S: '3', SLIPWAY_ADDON_HEALTH_INTERVAL_S: '1' },
  });
  repo = tmpDir('slipway-addons-');
  env = {
    ...process.env,
    SLIPWAY_CONFIG_DIR: tmpDir('slipway-cli-'),
    NO_COLOR: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  };
  delete env.SLIPWAY_TOKEN;
  delete env.SLIPWAY_API_URL;
  for (const f of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, f), path.join(repo, f));
  await exec('git', ['init', '-q', '-b', 'main'], { cwd: repo, env });
  await exec('git', ['add', '-A'], { cwd: repo, env });
  await exec('git', ['commit', '-qm', 'addons app'], { cwd: repo, env });
  await ok(['login', '--api', srv.url, '--token', srv.token]);
  await ok(['apps:create', APP]);
  await exec('git', ['push', 'slipway', 'main'], { cwd: repo, env, timeout: 600_000 }).catch(
    (e: { stdout?: string; stderr?: string }) => {
      throw new Error(`git push failed:\n${e.stderr}\n${e.stdout}\n${srv.output().slice(-3000)}`);
    },
  );
  await until('/', (b) => b.hasDb === false);
});

after(async () => {
  agent.destroy();
  await srv?.stop();
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
  if (env?.SLIPWAY_CONFIG_DIR) fs.rmSync(env.SLIPWAY_CONFIG_DIR, { recursive: true, force: true });
});

test('addons:create postgres and redis attach DATABASE_URL and REDIS_URL; the app writes and reads through both', async () => {
  const p = await json<Info & { release?: number }>(['addons:create', 'postgres']);
  assert.equal(p.kind, 'postgres');
  assert.deepEqual(
    p.attachments.map((t) => t.configVar),
    ['DATABASE_URL'],
  );
  assert.ok(p.release, 'a release was made');
  pg = p.name;
  const r = await json<Info>(['addons:create', 'redis', '--plan', 'small']);
  rd = r.name;
  const config = await json<Record<string, string>>(['config', '-a', APP]);
  assert.match(config.DATABASE_URL, new RegExp(`^postgres://app_a:[0-9a-f]{32}@${pg}:5432/app$`));
  assert.match(config.REDIS_URL, new RegExp(`^redis://default:[0-9a-f]{32}@${rd}:6379$`));
  await until('/', (b) => b.hasDb === true && b.hasRedis === true);
  const set = await get('/set?v=hello-addons');
  assert.equal(set.status, 200, set.body);
  assert.deepEqual(JSON.parse(set.body), { pg: 'hello-addons', redis: 'hello-addons', hasDb: true, hasRedis: true });
  const list = await ok(['addons']);
  assert.match(list, new RegExp(`${pg}\\s+postgres 15\\s+small\\s+up`));
  assert.match(list, new RegExp(`${rd}\\s+redis 7`));
  // No host port: the service is reachable only on the app's network.
  const ports = await docker(['inspect', '-f', '{{json .NetworkSettings.Ports}}', await containerOf(pg)]);
  assert.doesNotMatch(ports, /HostPort/);
});

test("addons:psql runs a query piped on stdin, as the apps' credential; addons:redis-cli too", async () => {
  const out = await ok(['addons:psql', pg], { input: "SELECT v, current_user FROM kv WHERE k = 'greeting';\n" });
  assert.match(out, /hello-addons\s*\|\s*app_owner/);
  const r = await ok(['addons:redis-cli', rd], { input: 'GET greeting\n' });
  assert.match(r, /hello-addons/);
  const bad = await cli(['addons:psql', pg], { input: 'SELECT * FROM no_such_table;\n' });
  assert.match(bad.stdout + bad.stderr, /no_such_table/);
});

test('data survives a service restart and a platform restart; running services are adopted; a missed daily backup is taken at start', async () => {
  // 00:00 UTC has always passed today: the restarted server owes a scheduled backup.
  await ok(['addons:backups:schedule', rd, '--at', '00:00']);
  assert.match(await ok(['addons:info', rd]), /Daily backup:\s+00:00 UTC/);
  await ok(['addons:restart', pg]);
  await ok(['addons:restart', rd]);
  await until('/', (b) => b.pg === 'hello-addons' && b.redis === 'hello-addons');
  const before = await docker(['inspect', '-f', '{{.Id}} {{.State.StartedAt}}', await containerOf(pg)]);
  await srv.restartServer();
  await until('/', (b) => b.pg === 'hello-addons' && b.redis === 'hello-addons');
  assert.equal(
    await docker(['inspect', '-f', '{{.Id}} {{.State.StartedAt}}', await containerOf(pg)]),
    before,
    'the service was adopted, not restarted',
  );
  let info = await json<Info>(['addons:info', pg]);
  for (let i = 0; i < 20 && info.health.status !== 'up'; i++) {
    await new Promise((r) => setTimeout(r, 500));
    info = await json<Info>(['addons:info', pg]);
  }
  assert.equal(info.health.status, 'up', JSON.stringify(info.health));
  let scheduled: Array<{ status: string; scheduled: boolean }> = [];
  for (let i = 0; i < 40 && !scheduled.some((b) => b.scheduled && b.status === 'succeeded'); i++) {
    await new Promise((r) => setTimeout(r, 500));
    scheduled = await json<Array<{ status: string; scheduled: boolean }>>(['addons:backups', rd]);
  }
  assert.ok(
    scheduled.some((b) => b.scheduled && b.status === 'succeeded'),
    JSON.stringify(scheduled),
  );
  await ok(['addons:backups:schedule', rd, '--off']);
});

test("a service that crashes is restarted (with the dynos' back-off) and the app reads its data again", async () => {
  await docker(['kill', await containerOf(pg)]);
  const deadline = Date.now() + 30_000;
  let info: Info | undefined;
  while (Date.now() < deadline) {
    info = await json<Info>(['addons:info', pg]);
    if (info.health.restarts >= 1 && info.health.status === 'up') break;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.equal(info?.health.restarts, 1, JSON.stringify(info));
  assert.equal(info?.health.status, 'up');
  await until('/', (b) => b.pg === 'hello-addons');
});

test('backup, drop the table, restore: the data is back; backups are listed and downloadable', async () => {
  const b = JSON.parse(await ok(['addons:backups:capture', pg, '--json'])) as {
    id: string;
    size: number;
    status: string;
  };
  assert.equal(b.status, 'succeeded');
  assert.ok(b.size > 0);
  const listed = await ok(['addons:backups', pg]);
  assert.match(listed, new RegExp(`${b.id}\\s+\\S+\\s+[\\d.]+ (B|KB)\\s+manual\\s+succeeded`));
  const file = path.join(repo, 'pg.dump');
  await ok(['addons:backups:download', pg, b.id, '-o', file]);
  assert.equal(fs.readFileSync(file).subarray(0, 5).toString(), 'PGDMP');
  assert.equal(fs.statSync(file).size, b.size);

  await ok(['addons:psql', pg], { input: 'DROP TABLE kv;\n' });
  await until('/', (b2) => b2.pg === null);
  const refused = await cli(['addons:backups:restore', pg, b.id]);
  assert.notEqual(refused.code, 0, 'restore needs --confirm');
  await ok(['addons:backups:restore', pg, b.id, '--confirm', pg]);
  await until('/', (b2) => b2.pg === 'hello-addons');

  const rb = JSON.parse(await ok(['addons:backups:capture', rd, '--json'])) as { id: string };
  const rfile = path.join(repo, 'redis.rdb');
  await ok(['addons:backups:download', rd, rb.id, '-o', rfile]);
  assert.equal(fs.readFileSync(rfile).subarray(0, 5).toString(), 'REDIS');
  await ok(['addons:redis-cli', rd], { input: 'DEL greeting\n' });
  await until('/', (b2) => b2.redis === null);
  await ok(['addons:backups:restore', rd, rb.id, '--confirm', rd]);
  await until('/', (b2) => b2.redis === 'hello-addons');
});

test('credentials rotation: new URLs released, old passwords revoked, 0 failed requests under load through the router', async () => {
  const before = await json<Record<string, string>>(['config', '-a', APP]);
  let stop = false;
  let okCount = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (!stop) {
      try {
        const r = await get('/ping');
        if (r.status === 200) okCount++;
        else failures.push(`${r.status} ${r.body}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const load = Promise.all([worker(), worker(), worker(), worker()]);
  try {
    await ok(['addons:credentials:rotate', pg]);
    await ok(['addons:credentials:rotate', rd]);
  } finally {
    stop = true;
    await load;
  }
  assert.deepEqual(failures, [], `failed requests during rotation (${okCount} ok)`);
  assert.ok(okCount > 20, `the load ran (${okCount} requests)`);
  const afterCfg = await json<Record<string, string>>(['config', '-a', APP]);
  assert.notEqual(afterCfg.DATABASE_URL, before.DATABASE_URL);
  assert.match(afterCfg.DATABASE_URL, /^postgres:\/\/app_b:/);
  assert.notEqual(afterCfg.REDIS_URL, before.REDIS_URL);
  await until('/', (b) => b.pg === 'hello-addons' && b.redis === 'hello-addons');
  // The old passwords no longer open a session.
  const oldPg = new URL(before.DATABASE_URL);
  const tryOld = await exec('docker', [
    'exec',
    '-e',
    `PGPASSWORD=${oldPg.password}`,
    await containerOf(pg),
    'psql',
    '-h',
    '127.0.0.1',
    '-U',
    oldPg.username,
    '-d',
    'app',
    '-c',
    'SELECT 1',
  ]).then(
    () => 0,
    (e: { code?: number }) => e.code ?? 1,
  );
  assert.notEqual(tryOld, 0, 'the old postgres password still works');
  const oldRd = new URL(before.REDIS_URL);
  const ping = await exec('docker', [
    'exec',
    '-e',
    `REDISCLI_AUTH=${oldRd.password}`,
    await containerOf(rd),
    'redis-cli',
    '-h',
    '127.0.0.1',
    '--user',
    'default',
    'PING',
  ]).then(
    (r) => r.stdout,
    (e: { stdout?: string }) => e.stdout ?? '',
  );
  assert.doesNotMatch(ping, /PONG/, 'the old redis password still works');
});

test('addons:upgrade moves the data to a new service (another plan here) and releases the app with its URL; the old one is kept, detached', async () => {
  const r = JSON.parse(await ok(['addons:upgrade', pg, '--plan', 'medium', '--confirm', pg, '--json'])) as {
    from: string;
    to: string;
    plan: string;
    releases: Record<string, number | null>;
  };
  assert.equal(r.from, pg);
  assert.notEqual(r.to, pg);
  assert.equal(r.plan, 'medium');
  assert.ok(r.releases[APP]);
  const cfg = await json<Record<string, string>>(['config', '-a', APP]);
  assert.match(cfg.DATABASE_URL, new RegExp(`@${r.to}:5432/app$`));
  await until('/', (b) => b.pg === 'hello-addons');
  const old = await json<Info>(['addons:info', pg]);
  assert.deepEqual(old.attachments, []);
  const fresh = await json<Info & { plan: string }>(['addons:info', r.to]);
  assert.equal(fresh.plan, 'medium');
  assert.deepEqual(
    fresh.attachments.map((t) => t.configVar),
    ['DATABASE_URL'],
  );
  // Detached: destroyed without --force.
  await ok(['addons:destroy', pg, '--confirm', pg]);
  assert.equal(await containerOf(pg), '');
  pg = r.to;
});

test("another owner's service is invisible and unreachable from this app's dynos; attach across owners is refused", async () => {
  const otherEmail = `other-${randomBytes(2).toString('hex')}@example.com`;
  const otherToken = await createUser(srv, otherEmail);
  const otherEnv = {
    ...env,
    SLIPWAY_API_URL: srv.url,
    SLIPWAY_TOKEN: otherToken,
    SLIPWAY_CONFIG_DIR: tmpDir('slipway-cli-'),
  };
  // The other owner works outside our repository (whose slipway remote names our app).
  const elsewhere = { env: otherEnv, cwd: otherEnv.SLIPWAY_CONFIG_DIR };
  const otherApp = `other-${randomBytes(3).toString('hex')}`;
  await ok(['apps:create', otherApp, '--no-remote'], elsewhere);
  const theirs = JSON.parse(await ok(['addons:create', 'redis', '-a', otherApp, '--json'], elsewhere)) as Info;
  // The owner's addons limit (default 5) counts services: at 1, a second one is refused.
  await ok(['limits:set', otherEmail, 'addons=1']);
  const second = await cli(['addons:create', 'postgres', '-a', otherApp], elsewhere);
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, /addons limit reached: user other-[0-9a-f]+@example\.com has 1 of 1 services/);
  // Not seen: not listed, no info, not attachable, and our app's config has no URL of it.
  const theirList = await ok(['addons'], elsewhere);
  assert.match(theirList, new RegExp(theirs.name));
  assert.doesNotMatch(theirList, new RegExp(pg));
  const info = await cli(['addons:info', pg], elsewhere);
  assert.notEqual(info.code, 0);
  assert.match(info.stderr, /does not exist/);
  const attach = await cli(['addons:attach', theirs.name, '-a', APP]);
  assert.notEqual(attach.code, 0);
  assert.match(attach.stderr, /another owner|same owner/);
  const ours = await json<Record<string, string>>(['config', '-a', APP]);
  assert.ok(
    !Object.values(ours).some((v) => v.includes(`@${theirs.name}:`)),
    `our config shows ${theirs.name}: ${JSON.stringify(Object.keys(ours))}`,
  );
  const theirConfig = await json<Record<string, string>>(
    ['config', '-a', otherApp],
    otherEnv,
    otherEnv.SLIPWAY_CONFIG_DIR,
  );
  assert.ok(
    theirConfig.REDIS_URL?.includes(`@${theirs.name}:`),
    `their config: ${JSON.stringify(Object.keys(theirConfig))}`,
  );

  // From a real one-off dyno of our app: our own service answers, theirs is unreachable by name and by address.
  const ip = (name: string) =>
    docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', name]).then(
      (s) => s.split(' ')[0],
    );
  const probe = (host: string, port: number) =>
    `node -e "const s=require('net').connect(${port},'${host}');s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log('ERR '+e.code);process.exit(2)});setTimeout(()=>{console.log('TIMEOUT');process.exit(3)},3000)"`;
  const mine = await cli(['run', '--no-tty', '--', probe(pg, 5432)]);
  assert.match(mine.stdout, /CONNECTED/, `control: our own service answers (${mine.stdout}${mine.stderr})`);
  const theirIp = await ip(await containerOf(theirs.name));
  const byIp = await cli(['run', '--no-tty', '--', probe(theirIp, 6379)]);
  assert.doesNotMatch(byIp.stdout, /CONNECTED/, `reached ${theirIp}`);
  const byName = await cli(['run', '--no-tty', '--', probe(theirs.name, 6379)]);
  assert.doesNotMatch(byName.stdout, /CONNECTED/);
  fs.rmSync(otherEnv.SLIPWAY_CONFIG_DIR, { recursive: true, force: true });
});

test('addons:destroy is refused while attached; with --force it removes the container, the volume and the config var', async () => {
  const refused = await cli(['addons:destroy', pg, '--confirm', pg]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /attached/);
  const cid = await containerOf(pg);
  const volume = await docker(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', cid]);
  assert.ok(volume);
  await ok(['addons:destroy', pg, '--confirm', pg, '--force']);
  assert.equal(await containerOf(pg), '');
  assert.equal(await docker(['volume', 'ls', '-q', '--filter', `name=^${volume}$`]), '');
  assert.equal('DATABASE_URL' in (await json<Record<string, string>>(['config', '-a', APP])), false);
  await until('/', (b) => b.hasDb === false && b.redis === 'hello-addons');
  assert.doesNotMatch(await ok(['addons']), new RegExp(pg));
});
