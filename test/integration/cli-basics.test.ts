import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';

const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
let srv: TestServer;
/** Commands run outside any repository, so no `slipway` remote is inferred by accident. */
const NEUTRAL = tmpDir('slipway-cwd-');

before(async () => {
  srv = await startTestServer({ seedStacks: false });
});
after(async () => {
  await srv?.stop();
  fs.rmSync(NEUTRAL, { recursive: true, force: true });
});

async function cli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], {
      env: opts.env ?? srv.cliEnv(),
      cwd: opts.cwd ?? NEUTRAL,
      timeout: 30_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function ok(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  const r = await cli(args, opts);
  assert.equal(r.code, 0, `slipway ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A user made by the admin through the CLI; returns the CLI env acting as them. */
async function makeUser(email: string): Promise<NodeJS.ProcessEnv> {
  const u = JSON.parse(await ok(['users:create', email, '--json'])) as { token: string };
  return srv.cliEnv(u.token);
}

test('login stores credentials with mode 0600; whoami uses them; logout forgets them', async () => {
  const dir = tmpDir('slipway-cli-');
  const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_CONFIG_DIR: dir, NO_COLOR: '1' };
  delete env.SLIPWAY_TOKEN;
  delete env.SLIPWAY_API_URL;
  const notLogged = await cli(['whoami'], { env });
  assert.notEqual(notLogged.code, 0);
  assert.match(notLogged.stderr, /not logged in/);
  assert.match(notLogged.stderr, /hint: .*slipway login/);
  const bad = await cli(['login', '--api', srv.url, '--token', 'slw_wrong'], { env });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /not valid/);
  await ok(['login', '--api', srv.url, '--token', srv.token], { env });
  const file = path.join(dir, 'credentials.json');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { apiUrl: srv.url, token: srv.token, email: srv.email });
  assert.match(await ok(['whoami'], { env }), /admin@example.com \(admin\)/);
  await ok(['logout'], { env });
  assert.equal(fs.existsSync(file), false);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('apps:create in a repository adds the slipway remote; git gets the token from the helper, not .git/config', async () => {
  const repo = tmpDir('slipway-repo-');
  const cfgDir = tmpDir('slipway-cli-');
  try {
    await exec('git', ['init', '-q', repo]);
    const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_CONFIG_DIR: cfgDir, NO_COLOR: '1' };
    delete env.SLIPWAY_TOKEN;
    delete env.SLIPWAY_API_URL;
    await ok(['login', '--api', srv.url, '--token', srv.token], { env });
    const created = JSON.parse(await ok(['apps:create', 'remote-app', '--json'], { env, cwd: repo })) as {
      name: string;
      remote: string;
    };
    assert.equal(created.remote, `${srv.url}/remote-app.git`);
    const url = (await exec('git', ['config', '--get', 'remote.slipway.url'], { cwd: repo })).stdout.trim();
    assert.equal(url, `${srv.url}/remote-app.git`);
    assert.ok(
      !fs.readFileSync(path.join(repo, '.git', 'config'), 'utf8').includes(srv.token),
      'token is not in .git/config',
    );
    // git asks the configured helper (slipway git-credential) for this server's password.
    const fill = await new Promise<string>((resolve, reject) => {
      const p = spawn('git', ['credential', 'fill'], { cwd: repo, env: { ...env, GIT_TERMINAL_PROMPT: '0' } });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('error', reject);
      p.on('close', () => resolve(out));
      p.stdin.end(`protocol=http\nhost=${new URL(srv.url).host}\n\n`);
    });
    assert.match(fill, /username=slipway/);
    assert.ok(fill.includes(`password=${srv.token}`));
    // The app is inferred from the remote: no -a needed.
    await ok(['config:set', 'GREETING=hello world'], { env, cwd: repo });
    assert.equal((await ok(['config:get', 'GREETING'], { env, cwd: repo })).trim(), 'hello world');
    const info = JSON.parse(await ok(['apps:info', '--json'], { env, cwd: repo })) as { name: string; owner: string };
    assert.equal(info.name, 'remote-app');
    // The bare repository exists on the server (created by apps:create, never by a push).
    assert.ok(fs.existsSync(path.join(srv.paths.repos, 'remote-app.git', 'HEAD')));
  } finally {
    fs.rmSync(repo, { recursive: true, force: true });
    fs.rmSync(cfgDir, { recursive: true, force: true });
  }
});

test('roles: a collaborator changes config but cannot destroy; a viewer reads but cannot change config', async () => {
  await ok(['apps:create', 'shared-app', '--no-remote']);
  const ana = await makeUser('ana@example.com');
  const vic = await makeUser('vic@example.com');
  const stranger = await makeUser('sam@example.com');
  await ok(['access:add', 'ana@example.com', '-a', 'shared-app']);
  await ok(['access:add', 'vic@example.com', '--role', 'viewer', '-a', 'shared-app']);
  const access = JSON.parse(await ok(['access', '-a', 'shared-app', '--json'])) as Array<{
    email: string;
    role: string;
  }>;
  assert.deepEqual(
    access.map((a) => `${a.email}:${a.role}`),
    ['admin@example.com:owner', 'ana@example.com:collaborator', 'vic@example.com:viewer'],
  );

  await ok(['config:set', 'FROM_ANA=1', '-a', 'shared-app'], { env: ana });
  const destroy = await cli(['apps:destroy', '-a', 'shared-app', '--confirm', 'shared-app'], { env: ana });
  assert.notEqual(destroy.code, 0);
  assert.match(destroy.stderr, /ana@example.com is a collaborator of "shared-app" and may not destroy it/);
  assert.match(destroy.stderr, /hint: only the app's owner or an admin/);
  const accessAdd = await cli(['access:add', 'sam@example.com', '-a', 'shared-app'], { env: ana });
  assert.notEqual(accessAdd.code, 0);

  // Viewers see the keys, not the values (docs/security.md, "Accounts and roles").
  assert.match(await ok(['config', '-a', 'shared-app'], { env: vic }), /FROM_ANA:\s+\(hidden\)/);
  const viewerSet = await cli(['config:set', 'X=1', '-a', 'shared-app'], { env: vic });
  assert.notEqual(viewerSet.code, 0);
  assert.match(viewerSet.stderr, /vic@example.com is a viewer of "shared-app" and may not config it/);
  assert.match(
    viewerSet.stderr,
    /hint: ask the app's owner to run: slipway access:add vic@example.com --role collaborator -a shared-app/,
  );
  const viewerScale = await cli(['ps:scale', 'web=2', '-a', 'shared-app'], { env: vic });
  assert.match(viewerScale.stderr, /may not scale/);

  const outsider = await cli(['config', '-a', 'shared-app'], { env: stranger });
  assert.notEqual(outsider.code, 0);
  assert.match(outsider.stderr, /sam@example.com has no access to app "shared-app"/);
  assert.deepEqual(JSON.parse(await ok(['apps', '--json'], { env: stranger })), []);

  const missing = await cli(['config', '-a', 'no-such-app']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /app "no-such-app" does not exist/);
  assert.match(missing.stderr, /hint: create it with: slipway apps:create no-such-app/);

  await ok(['access:remove', 'vic@example.com', '-a', 'shared-app']);
  assert.match((await cli(['config', '-a', 'shared-app'], { env: vic })).stderr, /no access/);
});

test('a revoked token fails on the API at once', async () => {
  const created = JSON.parse(await ok(['tokens:create', '--description', 'ci', '--json'])) as {
    id: number;
    token: string;
  };
  const env = srv.cliEnv(created.token);
  await ok(['whoami'], { env });
  const tokens = JSON.parse(await ok(['tokens', '--json'])) as Array<{
    id: number;
    description: string;
    revokedAt: string | null;
  }>;
  assert.ok(tokens.some((t) => t.id === created.id && t.description === 'ci' && t.revokedAt === null));
  // An open `logs -t` session of that token ends at once too.
  await ok(['apps:create', 'revoke-app', '--no-remote']);
  const session = spawn(process.execPath, [CLI, 'logs', '-t', '-a', 'revoke-app'], { env, cwd: NEUTRAL });
  let sessionOut = '';
  let sessionErr = '';
  session.stdout.on('data', (d) => (sessionOut += d));
  session.stderr.on('data', (d) => (sessionErr += d));
  const sessionExit = new Promise<number | null>((resolve) => session.once('exit', resolve));
  await waitFor('the session backlog', () => sessionOut.includes('App revoke-app created'), {
    timeoutMs: 5000,
    intervalMs: 20,
    context: () => sessionOut,
  });
  assert.match(sessionOut, /App revoke-app created/);
  const t0 = Date.now();
  await ok(['tokens:revoke', String(created.id)]);
  // The server ends the session at once; the CLI's reconnect (it outlives server restarts) is
  // refused with 401, which ends `logs -t` for good, saying why.
  assert.notEqual(await sessionExit, 0);
  assert.ok(Date.now() - t0 < 2000, `session ended after ${Date.now() - t0} ms`);
  assert.match(sessionErr, /this API token is not valid/);
  const after = await cli(['whoami'], { env });
  assert.notEqual(after.code, 0);
  assert.match(after.stderr, /this API token is not valid \(unknown or revoked\)/);
  const res = await fetch(`${srv.url}/api/apps`, { headers: { authorization: `Bearer ${created.token}` } });
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { id: string }).id, 'unauthorized');
});

test('logs -t streams a new line within 1 s (router access log and API changes)', async () => {
  await ok(['apps:create', 'tail-app', '--no-remote']);
  const child = spawn(process.execPath, [CLI, 'logs', '-t', '-a', 'tail-app'], { env: srv.cliEnv(), cwd: NEUTRAL });
  try {
    let out = '';
    const waitForLine = (re: RegExp, ms: number) =>
      new Promise<number>((resolve, reject) => {
        const t0 = Date.now();
        const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms; got:\n${out}`)), ms);
        const check = () => {
          if (re.test(out)) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            resolve(Date.now() - t0);
          }
        };
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (d) => (out += d));
    await waitForLine(/App tail-app created by admin@example.com/, 5000); // the backlog: session is open
    const marker = `/probe-${Date.now()}`;
    fs.appendFileSync(
      path.join(srv.paths.logs, 'router-access.log'),
      `${new Date().toISOString()} tail-app at=info method=GET path="${marker}" host=tail-app.localhost request_id=x fwd="127.0.0.1" dyno=web.1 connect=1ms service=2ms status=200 bytes=10 protocol=http\n`,
    );
    const routerMs = await waitForLine(new RegExp(`slipway\\[router\\]: at=info method=GET path="${marker}"`), 1000);
    await ok(['config:set', 'TAILED=yes', '-a', 'tail-app']);
    const apiMs = await waitForLine(/app\[api\]: Set TAILED config vars by admin@example.com/, 1000);
    assert.ok(!out.includes('yes\n'), 'config values never reach the logs');
    console.log(`# logs -t delay: router line ${routerMs} ms, api line ${apiMs} ms (after config:set returned)`);
  } finally {
    child.kill('SIGTERM');
  }
  // Filters: --source and -n.
  const onlyApi = await ok(['logs', '-a', 'tail-app', '--source', 'api']);
  assert.ok(
    onlyApi
      .trim()
      .split('\n')
      .every((l) => l.includes('app[api]:')),
  );
  const lastOne = await ok(['logs', '-a', 'tail-app', '-n', '1']);
  assert.equal(lastOne.trim().split('\n').length, 1);
});

test('--json output parses for every read command', async () => {
  await ok(['apps:create', 'json-app', '--no-remote']);
  await ok(['config:set', 'A=1', '-a', 'json-app']);
  const reads: string[][] = [
    ['apps'],
    ['apps:info', '-a', 'json-app'],
    ['whoami'],
    ['config', '-a', 'json-app'],
    ['config:get', 'A', '-a', 'json-app'],
    ['access', '-a', 'json-app'],
    ['tokens'],
    ['users'],
    ['events', '-a', 'json-app'],
    ['events'],
    ['buildpacks', '-a', 'json-app'],
    ['maintenance', '-a', 'json-app'],
    ['https-only', '-a', 'json-app'],
    ['status'],
    ['stacks'],
    ['domains', '-a', 'json-app'],
    ['certs', '-a', 'json-app'],
    ['ps', '-a', 'json-app'],
    ['ps:formation', '-a', 'json-app'],
    ['releases', '-a', 'json-app'],
    ['builds', '-a', 'json-app'],
  ];
  for (const args of reads) {
    const out = await ok([...args, '--json']);
    assert.doesNotThrow(() => JSON.parse(out), `slipway ${args.join(' ')} --json printed: ${out}`);
  }
  const ndjson = await ok(['logs', '-a', 'json-app', '--json']);
  const lines = ndjson
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { source: string; dyno: string; line: string });
  assert.ok(lines.some((l) => l.source === 'api' && l.dyno === 'api' && l.line.includes('Set A config vars')));
});

test('usage errors and unknown commands exit non-zero with a hint; help exists for every command', async () => {
  const unknown = await cli(['nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /"nope" is not a slipway command/);
  const badFlag = await cli(['apps', '--bogus']);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /unknown option --bogus/);
  const general = await ok(['help']);
  const names = [...general.matchAll(/^ {2}([a-z][a-z:-]*)\s{2,}/gm)].map((m) => m[1]);
  assert.ok(names.length >= 50, `help lists ${names.length} commands`);
  for (const n of names) {
    const h = await ok(['help', n]);
    assert.match(h, /^Usage: slipway /, n);
  }
  assert.match(await ok(['config:set', '--help']), /Usage: slipway config:set KEY=VALUE/);
});

test('run: errors before and after the upgrade reach the user with message and hint', async () => {
  await ok(['apps:create', 'run-app', '--no-remote']);
  const noRelease = await cli(['run', '-a', 'run-app', '--', 'echo', 'hi']);
  assert.equal(noRelease.code, 1);
  assert.match(noRelease.stderr, /has no release yet/);
  assert.match(noRelease.stderr, /hint: deploy it first: git push slipway main/);
  const vic = srv.cliEnv(JSON.parse(await ok(['users:create', 'runner@example.com', '--json'])).token);
  await ok(['access:add', 'runner@example.com', '--role', 'viewer', '-a', 'run-app']);
  const viewer = await cli(['run', '-a', 'run-app', '--', 'echo', 'hi'], { env: vic });
  assert.equal(viewer.code, 1);
  assert.match(viewer.stderr, /may not run it/);
  const badToken = await cli(['run', '-a', 'run-app', '--', 'echo', 'hi'], { env: srv.cliEnv('slw_bogus') });
  assert.equal(badToken.code, 1);
  assert.match(badToken.stderr, /not valid/);
  const missing = await cli(['run', '-a', 'nope-app', '--', 'true']);
  assert.match(missing.stderr, /app "nope-app" does not exist/);
});

test('login on a terminal without flags asks for the URL and the token, and does not echo the token', async () => {
  const dir = tmpDir('slipway-cli-');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_CONFIG_DIR: dir, NO_COLOR: '1' };
    delete env.SLIPWAY_TOKEN;
    delete env.SLIPWAY_API_URL;
    // script(1) gives the CLI a pseudo-terminal; answers are typed when asked.
    const child = spawn('script', ['-qec', `'${process.execPath}' '${CLI}' login`, '/dev/null'], { env, cwd: NEUTRAL });
    let out = '';
    const seen = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${re} in: ${out}`)), 10_000);
        const check = () => re.test(out) && (clearTimeout(t), child.stdout.off('data', check), resolve());
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (d) => (out += d));
    await seen(/API URL.*: $/);
    child.stdin.write(`${srv.url}\r`);
    await seen(/API token: $/);
    child.stdin.write(`${srv.token}\r`);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    assert.ok(out.includes(srv.url), 'the URL is echoed');
    assert.ok(!out.includes(srv.token), `the token is not echoed: ${out}`);
    assert.match(out, /Logged in as admin@example.com/);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'credentials.json'), 'utf8')).token, srv.token);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('domains, certificates, maintenance and buildpacks: changes reach the published route table', async () => {
  await ok(['apps:create', 'edge-app', '--no-remote']);
  const routes = () =>
    JSON.parse(fs.readFileSync(srv.paths.routesFile, 'utf8')) as {
      apps: Record<string, { hosts: string[]; maintenance: boolean; httpsOnly: boolean }>;
      certificates: Array<{ hosts: string[] }>;
    };
  await ok(['domains:add', 'www.edge-example.com', '-a', 'edge-app']);
  assert.ok(routes().apps['edge-app'].hosts.includes('www.edge-example.com'));
  const dup = await cli(['domains:add', 'www.edge-example.com', '-a', 'edge-app']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already added to app edge-app/);
  const underPlatform = await cli(['domains:add', 'x.localhost', '-a', 'edge-app']);
  assert.match(underPlatform.stderr, /under the platform domain/);
  const domains = JSON.parse(await ok(['domains', '-a', 'edge-app', '--json'])) as Array<{
    hostname: string;
    kind: string;
  }>;
  assert.deepEqual(
    domains.map((d) => `${d.kind}:${d.hostname}`),
    ['platform:edge-app.localhost', 'custom:www.edge-example.com'],
  );

  const dir = tmpDir('slipway-cert-');
  try {
    await exec('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=www.edge-example.com',
      '-addext',
      'subjectAltName=DNS:www.edge-example.com',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ]);
    const cert = JSON.parse(
      await ok(['certs:add', path.join(dir, 'cert.pem'), path.join(dir, 'key.pem'), '-a', 'edge-app', '--json']),
    ) as { id: number; hostnames: string[] };
    assert.deepEqual(cert.hostnames, ['www.edge-example.com']);
    assert.ok(routes().certificates.some((c) => c.hosts.includes('www.edge-example.com')));
    const listed = await ok(['certs', '-a', 'edge-app', '--json']);
    assert.ok(!listed.includes('PRIVATE KEY'), 'keys never come back out of the API');
    await ok(['certs:remove', String(cert.id), '-a', 'edge-app']);
    assert.equal(routes().certificates.length, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await ok(['domains:remove', 'www.edge-example.com', '-a', 'edge-app']);
  assert.ok(!routes().apps['edge-app'].hosts.includes('www.edge-example.com'));

  await ok(['maintenance:on', '-a', 'edge-app']);
  assert.equal(routes().apps['edge-app'].maintenance, true);
  assert.equal((await ok(['maintenance', '-a', 'edge-app'])).trim(), 'on');
  await ok(['maintenance:off', '-a', 'edge-app']);
  assert.equal(routes().apps['edge-app'].maintenance, false);

  // The router's 308 for httpsOnly apps is covered in router-tls-ws; here: CLI → API → state → routes.json.
  assert.equal(routes().apps['edge-app'].httpsOnly, false);
  await ok(['https-only:on', '-a', 'edge-app']);
  assert.equal(routes().apps['edge-app'].httpsOnly, true);
  assert.equal((await ok(['https-only', '-a', 'edge-app'])).trim(), 'on');
  await ok(['https-only:off', '-a', 'edge-app']);
  assert.equal(routes().apps['edge-app'].httpsOnly, false);

  await ok(['buildpacks:set', 'slipway/nodejs', '-a', 'edge-app']);
  await ok(['buildpacks:add', 'slipway/apt', '--index', '1', '-a', 'edge-app']);
  await ok(['buildpacks:add', 'https://example.com/bp.tgz', '-a', 'edge-app']);
  assert.deepEqual(
    (JSON.parse(await ok(['buildpacks', '-a', 'edge-app', '--json'])) as Array<{ url: string }>).map((b) => b.url),
    ['slipway/apt', 'slipway/nodejs', 'https://example.com/bp.tgz'],
  );
  await ok(['buildpacks:remove', 'slipway/nodejs', '-a', 'edge-app']);
  await ok(['buildpacks:remove', '--index', '2', '-a', 'edge-app']);
  assert.deepEqual(
    (JSON.parse(await ok(['buildpacks', '-a', 'edge-app', '--json'])) as Array<{ url: string }>).map((b) => b.url),
    ['slipway/apt'],
  );
  const bad = await cli(['buildpacks:add', 'slipway/apt', '-a', 'edge-app']);
  assert.match(bad.stderr, /already set/);
  // Heroku's names show the built-in buildpack that builds them (buildpacks/lifecycle/aliases.ts).
  assert.match(
    await ok(['buildpacks:set', 'https://github.com/heroku/heroku-buildpack-nodejs.git', '-a', 'edge-app']),
    /^1\. https:\/\/github\.com\/heroku\/heroku-buildpack-nodejs\.git \(provided by slipway\/nodejs\)$/m,
  );
  await ok(['buildpacks:clear', '-a', 'edge-app']);
  assert.deepEqual(JSON.parse(await ok(['buildpacks', '-a', 'edge-app', '--json'])), []);
  const logs = await ok(['logs', '-a', 'edge-app', '--source', 'api']);
  for (const re of [
    /Domain www.edge-example.com added/,
    /Certificate \d+ added/,
    /Maintenance mode enabled/,
    /HTTPS-only enabled/,
    /Buildpacks cleared/,
  ])
    assert.match(logs, re);
});
