import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { tmpDir } from '../helpers/home';

/**
 * The app owner's journey through the real CLI against a real server that really builds (git push
 * through the `slipway` remote and the CLI's credential helper) and really runs dynos in Docker:
 * config reaches the dyno's env, `logs -t` shows a line the dyno printed, releases and rollback,
 * scaling by a collaborator, one-off runs with their exit code, destroy.
 */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
const APP = `deploy-${randomBytes(3).toString('hex')}`;
let srv: TestServer;
let repo: string;
let cfgDir: string;
let env: NodeJS.ProcessEnv;

const SERVER_JS = `
const http = require('http');
http.createServer((req, res) => {
  console.log('hit ' + req.url + ' on ' + process.env.DYNO);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ greeting: process.env.GREETING || null, dyno: process.env.DYNO }));
}).listen(Number(process.env.PORT || 5000), () => console.log('listening on ' + process.env.PORT));
`;

async function cli(
  args: string[],
  e: NodeJS.ProcessEnv = env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env: e, cwd: repo, timeout: 180_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const x = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}
async function ok(args: string[], e: NodeJS.ProcessEnv = env): Promise<string> {
  const r = await cli(args, e);
  assert.equal(r.code, 0, `slipway ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}
const json = async <T>(args: string[], e: NodeJS.ProcessEnv = env) => JSON.parse(await ok([...args, '--json'], e)) as T;

interface Dyno {
  name: string;
  type: string;
  state: string;
  address: string | null;
  release: number;
}

/** GET / of web.1, retrying until it answers with the wanted greeting (after a deploy or restart). */
async function webAnswer(want: string | null, timeoutMs = 60_000): Promise<{ greeting: string | null; dyno: string }> {
  let last = '';
  return waitFor(
    `web to answer greeting=${want}`,
    async () => {
      const dynos = await json<Dyno[]>(['ps']);
      const web = dynos.find((d) => d.type === 'web' && d.state === 'up' && d.address);
      last = JSON.stringify(dynos);
      if (!web) return undefined;
      const body = (await (await fetch(`http://${web.address}/`, { signal: AbortSignal.timeout(2000) })).json()) as {
        greeting: string | null;
        dyno: string;
      };
      last = JSON.stringify(body);
      return body.greeting === want ? body : undefined;
    },
    { timeoutMs, intervalMs: 300, context: () => `last: ${last}` },
  );
}

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BUILD_TIMEOUT_S: '600' } });
  cfgDir = tmpDir('slipway-cli-');
  repo = tmpDir('slipway-deploy-');
  env = {
    ...process.env,
    SLIPWAY_CONFIG_DIR: cfgDir,
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
  fs.writeFileSync(
    path.join(repo, 'package.json'),
    JSON.stringify({ name: 'cli-deploy', version: '1.0.0', private: true, engines: { node: '20.x' } }),
  );
  fs.writeFileSync(
    path.join(repo, 'package-lock.json'),
    JSON.stringify({
      name: 'cli-deploy',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name: 'cli-deploy', version: '1.0.0', engines: { node: '20.x' } } },
    }),
  );
  fs.writeFileSync(path.join(repo, 'server.js'), SERVER_JS);
  fs.writeFileSync(path.join(repo, 'Procfile'), 'web: node server.js\n');
  await exec('git', ['init', '-q', '-b', 'main'], { cwd: repo, env });
  await exec('git', ['add', '-A'], { cwd: repo, env });
  await exec('git', ['commit', '-qm', 'first'], { cwd: repo, env });
  await ok(['login', '--api', srv.url, '--token', srv.token]);
});

after(async () => {
  await srv?.stop();
  for (const d of [repo, cfgDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('create, configure, push through the slipway remote; config is in the dyno env; logs -t shows a dyno line within 1 s', async () => {
  await ok(['apps:create', APP]);
  await ok(['config:set', 'GREETING=hello']);
  // git authenticates through `slipway git-credential` (no token in the URL or .git/config).
  const push = await exec('git', ['push', 'slipway', 'main'], { cwd: repo, env, timeout: 600_000 }).catch(
    (e: { stdout?: string; stderr?: string }) => {
      throw new Error(`git push failed:\n${e.stderr}\n${e.stdout}\n${srv.output().slice(-3000)}`);
    },
  );
  assert.match(push.stderr, /Released v\d+/);
  const first = await webAnswer('hello');
  assert.equal(first.dyno, 'web.1');

  const child = spawn(process.execPath, [CLI, 'logs', '-t', '--ps', 'web', '-a', APP], { env });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    await waitFor('the backlog in logs -t', () => /listening on/.test(out), {
      timeoutMs: 10_000,
      intervalMs: 20,
      context: () => out,
    });
    assert.match(out, /app\[web\.1\]: listening on 5000/, 'backlog shows the dyno boot line');
    const dyno = (await json<Dyno[]>(['ps'])).find((d) => d.name === 'web.1')!;
    const marker = `/probe-${Date.now()}`;
    const t0 = Date.now();
    await fetch(`http://${dyno.address}${marker}`);
    await waitFor('the dyno line in logs -t', () => out.includes(`hit ${marker} on web.1`), {
      timeoutMs: 3000,
      intervalMs: 5,
      context: () => out,
    });
    const ms = Date.now() - t0;
    assert.ok(out.includes(`app[web.1]: hit ${marker} on web.1`), `no dyno line in logs -t:\n${out}`);
    console.log(`# a line printed by web.1 reached logs -t in ${ms} ms`);
    assert.ok(ms < 1000, `took ${ms} ms`);
  } finally {
    child.kill('SIGTERM');
  }
});

test('config change makes a release; releases lists it; rollback restores the old config', async () => {
  assert.match(
    await ok(['config:set', 'GREETING=bonjour']),
    new RegExp(`Setting GREETING and restarting ${APP}\\.\\.\\. done, v\\d+`),
  );
  await webAnswer('bonjour');
  const releases = await json<
    Array<{ version: number; description: string; status: string; current: boolean; user: string }>
  >(['releases']);
  assert.ok(releases.length >= 2);
  assert.equal(releases[0].current, true);
  assert.equal(releases[0].user, srv.email);
  const previous = releases[1].version;
  const info = await json<{ version: number }>(['releases:info', `v${previous}`]);
  assert.equal(info.version, previous);
  assert.match(
    await ok(['releases:rollback', `v${previous}`]),
    new RegExp(`Rolling back ${APP} to v${previous}... done, v${releases[0].version + 1}`),
  );
  await webAnswer('hello');
  assert.equal(
    JSON.parse(await ok(['config:get', 'GREETING', '--json'])).GREETING,
    'hello',
    'rollback restores the config vars too',
  );
  const logs = await ok(['logs', '--source', 'api', '-n', '50']);
  assert.match(logs, new RegExp(`app\\[api\\]: Release v${releases[0].version + 1} created by ${srv.email}`));
});

test('a collaborator can scale but not destroy; a viewer cannot change config', async () => {
  const ana = JSON.parse(await ok(['users:create', 'ana@example.com', '--json'])) as { token: string };
  const vic = JSON.parse(await ok(['users:create', 'vic@example.com', '--json'])) as { token: string };
  await ok(['access:add', 'ana@example.com']);
  await ok(['access:add', 'vic@example.com', '--role', 'viewer']);
  const asAna: NodeJS.ProcessEnv = { ...env, SLIPWAY_TOKEN: ana.token, SLIPWAY_API_URL: srv.url };
  const asVic: NodeJS.ProcessEnv = { ...env, SLIPWAY_TOKEN: vic.token, SLIPWAY_API_URL: srv.url };
  await ok(['ps:scale', 'web=2'], asAna);
  const dynos = await waitFor(
    'two web dynos up',
    async () => {
      const list = await json<Dyno[]>(['ps'], asVic);
      return list.filter((d) => d.type === 'web' && d.state === 'up').length === 2 && list;
    },
    { timeoutMs: 60_000, intervalMs: 300 },
  );
  assert.deepEqual(
    dynos.filter((d) => d.type === 'web').map((d) => d.name),
    ['web.1', 'web.2'],
  );
  assert.match(await ok(['logs', '--source', 'api', '-n', '20']), /app\[api\]: Scaled to web@2 by ana@example.com/);
  const events = await json<Array<{ actor: string; action: string; message: string }>>(['events']);
  assert.ok(
    events.some(
      (e) => e.actor === 'ana@example.com' && e.action === 'formation.update' && e.message === 'Scaled to web@2',
    ),
  );

  const destroy = await cli(['apps:destroy', '--confirm', APP], asAna);
  assert.equal(destroy.code, 1);
  assert.match(destroy.stderr, /may not destroy/);
  const set = await cli(['config:set', 'GREETING=nope'], asVic);
  assert.equal(set.code, 1);
  assert.match(set.stderr, /vic@example.com is a viewer .* may not config/);
  await ok(['ps:scale', 'web=1'], asAna);
});

test('run: a one-off dyno gets the config and passes its exit code through; run:detached logs to the stream', async () => {
  const r = await cli(['run', '--no-tty', '--', 'echo "greeting=$GREETING dyno=$DYNO"; echo to-stderr >&2; exit 3']);
  assert.equal(r.code, 3, `stderr: ${r.stderr}`);
  assert.match(r.stdout, /greeting=hello dyno=run\.\d+/);
  assert.match(r.stderr, /to-stderr/);
  // On a terminal (script(1) gives the CLI a pseudo-terminal) the dyno gets a TTY too.
  const quote = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
  const onTty = await exec(
    'script',
    [
      '-qefc',
      [process.execPath, CLI, 'run', '--', 'test -t 0 && test -t 1 && echo tty-yes; exit 7'].map(quote).join(' '),
      '/dev/null',
    ],
    {
      env,
      cwd: repo,
      timeout: 120_000,
    },
  ).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, out: e.stdout ?? '' }),
  );
  assert.equal(onTty.code, 7, onTty.out);
  assert.match(onTty.out, /tty-yes/);

  const d = JSON.parse(await ok(['run:detached', '--json', '--', 'echo detached-output-$GREETING'])) as {
    name: string;
  };
  assert.match(d.name, /^run\.\d+$/);
  const logs = await waitFor(
    "the detached dyno's output in its logs",
    async () => {
      const text = await ok(['logs', '--ps', d.name]);
      return text.includes('detached-output-hello') && text;
    },
    { timeoutMs: 30_000, intervalMs: 300 },
  );
  assert.match(logs, new RegExp(`app\\[${d.name.replace('.', '\\.')}\\]: detached-output-hello`));
});

test('status shows the app with its dynos; destroy removes its containers, repository, build directories and cache', async () => {
  const s = await json<{ apps: Array<{ name: string; dynos: number }>; docker: { status: string } }>(['status']);
  assert.equal(s.docker.status, 'ok');
  assert.ok((s.apps.find((a) => a.name === APP)?.dynos ?? 0) >= 1, JSON.stringify(s.apps));
  const builds = await json<Array<{ id: string }>>(['builds']);
  assert.ok(
    builds.length > 0 && builds.every((b) => fs.existsSync(path.join(srv.home, 'builds', b.id))),
    'the builds left directories (logs)',
  );
  assert.ok(fs.existsSync(path.join(srv.home, 'repos', `${APP}.git`)));
  assert.ok(fs.existsSync(path.join(srv.home, 'caches', APP)));
  await ok(['apps:destroy', '--confirm', APP]);
  for (const b of builds)
    assert.equal(fs.existsSync(path.join(srv.home, 'builds', b.id)), false, `builds/${b.id} removed`);
  assert.equal(fs.existsSync(path.join(srv.home, 'caches', APP)), false, 'build cache removed');
  assert.equal(fs.existsSync(path.join(srv.home, 'repos', `${APP}.git`)), false, 'repository removed');
  const left = (
    await exec('docker', [
      'ps',
      '-aq',
      '--filter',
      `label=io.slipway.home=${srv.home}`,
      '--filter',
      `label=io.slipway.app=${APP}`,
    ])
  ).stdout.trim();
  assert.equal(left, '', 'no containers of the app are left');
  const gone = await cli(['apps:info', '-a', APP]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /does not exist/);
  const remote = await exec('git', ['remote'], { cwd: repo, env });
  assert.ok(!remote.stdout.includes('slipway'), 'the slipway remote is removed with the app');
});
