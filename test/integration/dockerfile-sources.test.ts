import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort, startTestServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { api, createApp, startRouter, uniq } from './git-helpers';
import { answer, cli, cliOk, PERL_FIXTURE } from './dockerfile-helpers';

/**
 * Sources that are not a git push, through the real CLI and a real server: `slipway deploy DIR`
 * of a directory without git (.gitignore honoured, build recorded by the tarball's digest), and
 * `slipway deploy:image` from a real registry (Debian's docker-registry, on loopback, with
 * htpasswd auth) with per-app credentials, digest checks and refusals that keep the release.
 */
const run = promisify(execFile);
let srv: TestServer;
let stopRouter: (() => Promise<void>) | undefined;
let registry: ChildProcess | undefined;
let registryPort = 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-dfsrc-'));
const dockerEnv = { ...process.env, DOCKER_CONFIG: path.join(tmp, 'docker-config') };
const pushedTags: string[] = [];

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BUILD_TIMEOUT_S: '600' } });
  stopRouter = await startRouter(srv);
});
after(async () => {
  await stopRouter?.();
  await srv?.stop();
  registry?.kill('SIGTERM');
  for (const t of pushedTags) await run('docker', ['rmi', '-f', t]).catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const appDir = uniq('dfdir');

test("slipway deploy DIR: a directory without git builds through the same pipeline; .gitignore'd files stay out", async () => {
  await createApp(srv, appDir);
  const dir = path.join(tmp, 'plain');
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  fs.copyFileSync(path.join(PERL_FIXTURE, 'server.pl'), path.join(dir, 'server.pl'));
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    'FROM slipway/bookworm-run:latest\nUSER root\nCOPY . /srv/src\nRUN ls -A /srv/src /srv/src/sub | tr "\\n" " " > /srv/info\nUSER 1000\nCMD ["perl", "/srv/src/server.pl", "from-dir"]\n',
  );
  fs.writeFileSync(path.join(dir, '.gitignore'), 'ignored.txt\nlogs/\n');
  fs.writeFileSync(path.join(dir, 'ignored.txt'), 'x');
  fs.writeFileSync(path.join(dir, 'logs', 'a.log'), 'x');
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', '.gitignore'), '*.tmp\n');
  fs.writeFileSync(path.join(dir, 'sub', 'kept.txt'), 'x');
  fs.writeFileSync(path.join(dir, 'sub', 'scratch.tmp'), 'x');

  const out = await cliOk(srv, ['deploy', dir, '-a', appDir]);
  assert.match(out, /Uploading \d+ files/);
  assert.match(out, /Building with the Dockerfile/);
  assert.match(out, /Released v\d+/);
  const body = await answer(srv, appDir, 'name=from-dir');
  assert.match(body, /server\.pl/);
  assert.match(body, /kept\.txt/);
  assert.doesNotMatch(body, /ignored\.txt|logs|scratch\.tmp/);
  const builds = (await api<Array<{ sourceVersion: string; status: string }>>(srv, 'GET', `/apps/${appDir}/builds`))
    .body;
  assert.equal(builds[0].status, 'succeeded');
  assert.match(builds[0].sourceVersion, /^sha256:[a-f0-9]{64}$/);

  // The upload is bounded like a git push: the owner's push-mb limit.
  assert.equal(
    (await api(srv, 'PATCH', `/users/${encodeURIComponent(srv.email)}/limits`, { 'push-mb': 1 })).status,
    200,
  );
  try {
    fs.writeFileSync(path.join(dir, 'big.bin'), randomBytes(3 * 1024 * 1024));
    const big = await cli(srv, ['deploy', dir, '-a', appDir]);
    assert.equal(big.killed, false, 'the CLI exited by itself after the refusal');
    assert.notEqual(big.code, 0, big.out);
    assert.match(big.out, /push-mb limit reached/);
    assert.equal((await api<unknown[]>(srv, 'GET', `/apps/${appDir}/builds`)).body.length, builds.length);
  } finally {
    await api(srv, 'PATCH', `/users/${encodeURIComponent(srv.email)}/limits`, { 'push-mb': null });
  }
});

async function startRegistry(): Promise<void> {
  registryPort = await freePort();
  const htpasswd = path.join(tmp, 'htpasswd');
  fs.writeFileSync(htpasswd, (await run('htpasswd', ['-Bbn', 'deployer', 's3cret-pass'])).stdout);
  const config = path.join(tmp, 'registry.yml');
  fs.writeFileSync(
    config,
    `version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: ${path.join(tmp, 'registry-data')} } }
http: { addr: 127.0.0.1:${registryPort} }
auth: { htpasswd: { realm: slipway-test, path: ${htpasswd} } }
`,
  );
  registry = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  await waitFor(
    'docker-registry asking for credentials on /v2/',
    async () => (await fetch(`http://127.0.0.1:${registryPort}/v2/`)).status === 401,
    { timeoutMs: 20_000, intervalMs: 200 },
  );
}

/** Builds a small image and pushes it to the test registry; returns its digest. */
async function pushImage(name: string, marker: string): Promise<string> {
  const tag = `127.0.0.1:${registryPort}/${name}`;
  const ctxDir = path.join(tmp, `img-${marker}`);
  fs.mkdirSync(ctxDir, { recursive: true });
  fs.copyFileSync(path.join(PERL_FIXTURE, 'server.pl'), path.join(ctxDir, 'server.pl'));
  fs.writeFileSync(
    path.join(ctxDir, 'Dockerfile'),
    `FROM slipway/bookworm-run:latest\nCOPY server.pl /home/slipway/server.pl\nEXPOSE 7000\nCMD ["perl", "/home/slipway/server.pl", "${marker}"]\n`,
  );
  await run('docker', ['build', '-q', '-t', tag, ctxDir], { env: dockerEnv });
  pushedTags.push(tag);
  const login = spawn('docker', ['login', `127.0.0.1:${registryPort}`, '-u', 'deployer', '--password-stdin'], {
    env: dockerEnv,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  login.stdin.end('s3cret-pass\n');
  assert.equal(await new Promise((res) => login.on('close', res)), 0, 'docker login to the test registry');
  const pushed = await run('docker', ['push', tag], { env: dockerEnv });
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)?.[1];
  assert.ok(digest, pushed.stdout);
  // Gone from the engine: the deploy must pull it.
  await run('docker', ['rmi', tag]);
  return digest;
}

const appImg = uniq('dfimg');

test('deploy:image from a registry with credentials: pulled, digest-checked, released; a wrong digest, a missing image or another platform is refused and the release kept', async () => {
  await startRegistry();
  await createApp(srv, appImg);
  const digest = await pushImage('team/web:1', 'from-registry');
  const ref = `127.0.0.1:${registryPort}/team/web@${digest}`;

  const denied = await cli(srv, ['deploy:image', ref, '-a', appImg]);
  assert.notEqual(denied.code, 0, denied.out);
  assert.match(denied.out, /could not pull/);
  assert.match(denied.out, new RegExp(`slipway registry:login 127\\.0\\.0\\.1:${registryPort} -a ${appImg}`));

  const login = spawn(
    process.execPath,
    [
      path.join(__dirname, '..', '..', 'cli', 'main.js'),
      'registry:login',
      `127.0.0.1:${registryPort}`,
      '-u',
      'deployer',
      '--password-stdin',
      '-a',
      appImg,
    ],
    { env: srv.cliEnv() },
  );
  login.stdin.end('s3cret-pass\n');
  let loginOut = '';
  login.stdout.on('data', (d: Buffer) => (loginOut += d.toString()));
  assert.equal(await new Promise((res) => login.on('close', res)), 0, loginOut);
  // The password is sealed at rest: not in the database file as text.
  for (const f of ['slipway.db', 'slipway.db-wal']) {
    const file = path.join(srv.paths.db, '..', f);
    if (fs.existsSync(file))
      assert.ok(!fs.readFileSync(file).includes('s3cret-pass'), `${f} holds the password in clear`);
  }

  const ok = await cliOk(srv, ['deploy:image', ref, '-a', appImg]);
  assert.match(ok, /Deploying an image \(no build\)/);
  assert.match(ok, /Pulling .* \(as deployer\)/);
  assert.match(ok, /web on port 7000, from EXPOSE/);
  assert.match(ok, /Released v\d+/);
  assert.match(await answer(srv, appImg, 'name=from-registry'), /port=7000 uid=1000/);
  const releases = async () => (await api<unknown[]>(srv, 'GET', `/apps/${appImg}/releases`)).body.length;
  const count = await releases();

  const wrong = await cli(srv, [
    'deploy:image',
    `127.0.0.1:${registryPort}/team/web@sha256:${'0'.repeat(64)}`,
    '-a',
    appImg,
  ]);
  assert.notEqual(wrong.code, 0, wrong.out);
  assert.match(wrong.out, /could not pull .*@sha256:0{64}/);
  const missing = await cli(srv, ['deploy:image', `127.0.0.1:${registryPort}/team/nope:1`, '-a', appImg]);
  assert.notEqual(missing.code, 0, missing.out);
  assert.match(missing.out, /could not pull .*team\/nope:1/);
  assert.match(missing.out, /Push rejected to/);
  // An image for another platform (linux/arm64, no RUN step so no emulation needed to build it).
  const armDir = path.join(tmp, 'arm');
  fs.mkdirSync(armDir, { recursive: true });
  fs.writeFileSync(path.join(armDir, 'a'), 'x');
  fs.writeFileSync(path.join(armDir, 'Dockerfile'), 'FROM scratch\nCOPY a /a\nCMD ["/a"]\n');
  const armTag = `127.0.0.1:${registryPort}/team/arm:1`;
  await run('docker', ['build', '--platform', 'linux/arm64', '-q', '-t', armTag, armDir], {
    env: { ...dockerEnv, DOCKER_BUILDKIT: '0' },
  });
  pushedTags.push(armTag);
  await run('docker', ['push', armTag], { env: dockerEnv });
  await run('docker', ['rmi', armTag]);
  const arm = await cli(srv, ['deploy:image', armTag, '-a', appImg]);
  assert.notEqual(arm.code, 0, arm.out);
  assert.match(arm.out, /linux\/amd64/);
  assert.match(arm.out, /Push rejected to/);

  assert.equal(await releases(), count);
  await answer(srv, appImg, 'name=from-registry');
});
