import { after, before, test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { api, createUser, git, gitUrl, uniq } from '../integration/git-helpers';
import { clientUid, countBomb, endlessArchive, makeTar, makeVictim, sizeBomb, snapshot } from './hostile';

/**
 * Issue 12 part 1 through the real entry point: a real `git push` (git CLI) by a NON-admin user
 * against a real server. Each case is an attack that worked before: the pushed source and the
 * buildpacks it names are untrusted, and nothing in them may make the server read, write or
 * delete host files, hang, or connect to its own network. One server, one user, one app; the
 * pushes fail at buildpack selection (before any build container), so the file stays fast.
 */
let srv: TestServer;
let token: string;
const app = uniq('sec');
const SECRET = `MARKER-${randomBytes(8).toString('hex')}`;
let victim: string;
let before0: string[];
const dirs: string[] = [];
/** The archive server: allowed by name (SLIPWAY_BUILDPACK_FETCH_ALLOW), like an internal one. */
let archives: http.Server;
let archivePort = 0;
const served = new Map<string, Buffer | 'endless'>();
/** The uid behind each request to the archive server (the fetch must never run as root). */
const fetchUids: Array<number | undefined> = [];
/** A loopback socket nobody allowed: it must never see a connection. */
let trap: net.Server;
let trapPort = 0;
let trapConnections = 0;

const exec = promisify(execFile);
const base = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';

before(async () => {
  victim = makeVictim(base, SECRET);
  before0 = snapshot(victim);
  archives = http.createServer((req, res) => {
    fetchUids.push(clientUid(req.socket.remotePort ?? 0));
    const body = served.get(req.url ?? '');
    if (!body) return void res.writeHead(404).end();
    if (body !== 'endless') return void res.end(body);
    // More than any cap, without a length: the fetcher must stop on its own.
    const { head, chunk } = endlessArchive();
    res.write(head);
    const write = () => {
      while (!res.destroyed && res.write(chunk));
    };
    res.on('drain', write);
    write();
  });
  await new Promise<void>((r) => archives.listen(0, '127.0.0.1', r));
  archivePort = (archives.address() as net.AddressInfo).port;
  trap = net.createServer((s) => {
    trapConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  trapPort = (trap.address() as net.AddressInfo).port;

  srv = await startTestServer({ env: { SLIPWAY_BUILDPACK_FETCH_ALLOW: `127.0.0.1:${archivePort}` } });
  token = await createUser(srv, `dev-${randomBytes(3).toString('hex')}@example.com`);
  const created = await api(srv, 'POST', '/apps', { name: app }, token);
  assert.equal(created.status, 201, JSON.stringify(created.body));
});

after(async () => {
  await srv?.stop();
  archives?.close();
  trap?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  if (victim) fs.rmSync(victim, { recursive: true, force: true });
});

/** A repository with these files and symbolic links, pushed (forced) by the non-admin user. */
async function push(
  files: Record<string, string>,
  links: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-sec-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body, { mode: name.includes('/bin/') ? 0o755 : 0o644 });
  }
  for (const [name, target] of Object.entries(links)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.symlinkSync(target, path.join(dir, name));
  }
  await git(['init', '-q'], dir);
  await git(['add', '-A'], dir);
  await git(['commit', '-qm', 'hostile'], dir);
  const r = await git(['push', '--force', gitUrl(srv, app, token), 'HEAD:main'], dir, 120_000);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** Everything the user (or anyone on the app) can see about builds: none may hold the secret. */
async function assertNoLeak(out: string): Promise<void> {
  assert.ok(!out.includes(SECRET), `the push output shows the marker:\n${out}`);
  const builds = await api<Array<{ id: string }>>(srv, 'GET', `/apps/${app}/builds`, undefined, token);
  for (const b of builds.body.slice(0, 3)) {
    const o = await api<string>(srv, 'GET', `/apps/${app}/builds/${b.id}/output`, undefined, token);
    assert.ok(!String(o.body).includes(SECRET), 'the build output shows the marker');
  }
  // `slipway logs` and `slipway builds:output` as the user would run them (the real CLI binary).
  for (const args of [
    ['logs', '-a', app, '-n', '1000'],
    ['builds:output', '-a', app],
  ]) {
    const r = await exec(process.execPath, [path.join(DIST, 'cli', 'main.js'), ...args], {
      env: srv.cliEnv(token),
      cwd: os.tmpdir(),
      timeout: 60_000,
    }).catch((e: { stdout?: string; stderr?: string }) => e);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(SECRET), `slipway ${args[0]} shows the marker`);
    // It did show the build (so the check above looked at something).
    assert.match(
      `${r.stdout}`,
      /Building on the bookworm stack|Build of \S+ .*failed/,
      `slipway ${args.join(' ')}: ${r.stdout}${r.stderr}`,
    );
  }
  const events = await api(srv, 'GET', `/apps/${app}/events`, undefined, token);
  assert.ok(!JSON.stringify(events.body).includes(SECRET), 'the events show the marker');
  assert.ok(!srv.output().includes(SECRET), 'the server log shows the marker');
}

function assertVictimUntouched(): void {
  assert.deepEqual(snapshot(victim), before0, 'the victim directory changed');
}

/** A marker file outside the tree whose content the old code echoed in its error. */
function marker(content: string): string {
  const f = path.join(victim, `m-${randomBytes(3).toString('hex')}`);
  fs.writeFileSync(f, content);
  before0 = snapshot(victim);
  return f;
}

const CNB_BP = (version: string) => ({
  'project.toml': '[[io.buildpacks.group]]\nuri = "./bp"\n',
  'bp/buildpack.toml': `api = "0.10"\n[buildpack]\nid = "evil/bp"\nversion = ${JSON.stringify(version)}\n`,
  'bp/bin/detect': '#!/bin/sh\nexit 0\n',
  'bp/bin/build': '#!/bin/sh\nexit 0\n',
});

test('version traversal in an in-repo buildpack.toml is refused; nothing is written outside the build', async () => {
  const version = '../'.repeat(30) + victim.slice(1) + '/pwned';
  const r = await push(CNB_BP(version));
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /buildpack version ".*" is not allowed/);
  assert.ok(!fs.existsSync(path.join(victim, 'pwned')), 'a file was written into the victim directory');
  assertVictimUntouched();
});

for (const [file, content, extra] of [
  ['.buildpacks', `${SECRET}\n`, {}],
  ['app.json', JSON.stringify({ buildpacks: [{ url: SECRET }] }), {}],
  ['project.toml', `[[io.buildpacks.group]]\nid = "${SECRET}"\n`, {}],
  [
    'bp/buildpack.toml',
    `api = "${SECRET}"\n`,
    { 'project.toml': '[[io.buildpacks.group]]\nuri = "./bp"\n', 'bp/bin/detect': '#!/bin/sh\n' },
  ],
] as const) {
  test(`a symlinked ${file} pointing outside the tree is refused without reading it`, async () => {
    const target = marker(content);
    const r = await push({ 'README.md': 'x', ...extra }, { [file]: target });
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`${file.replace(/\./g, '\\.')} is a symbolic link`));
    await assertNoLeak(r.out);
    assertVictimUntouched();
  });
}

test('a /dev/zero symlink fails the push at once and the server stays responsive', async () => {
  let probes = 0;
  let failures = 0;
  let pushing = true;
  const prober = (async () => {
    while (pushing) {
      try {
        const res = await fetch(`${srv.url}/healthz`, { signal: AbortSignal.timeout(5000) });
        if (res.ok) probes++;
        else failures++;
      } catch {
        failures++;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const r = await push({ 'README.md': 'x' }, { '.buildpacks': '/dev/zero', 'app.json': '/dev/zero' });
  pushing = false;
  await prober;
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /(\.buildpacks|app\.json) is a symbolic link/);
  assert.equal(failures, 0, 'the server missed a /healthz while the push ran');
  assert.ok(probes > 0);
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
});

test('buildpack URLs on loopback are refused before any connection', async () => {
  const P = trapPort;
  const urls = [
    `http://127.0.0.1:${P}/bp.tgz`,
    `http://127.1:${P}/bp.tgz`,
    `http://0x7f.1:${P}/bp.tgz`,
    `http://2130706433:${P}/bp.tgz`,
    `http://[::1]:${P}/bp.tgz`,
    `http://[::ffff:127.0.0.1]:${P}/bp.tgz`,
    `http://localhost:${P}/bp.tgz`,
    `http://127.0.0.1:${P}/repo.git`,
  ];
  for (const url of urls) {
    const r = await push({ '.buildpacks': `${url}\n` });
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /was refused: .*(loopback|this machine)/, url);
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(trapConnections, 0, 'the server connected to a loopback port');
});

test('a .tgz buildpack whose single top-level entry is a symlink to a host directory deletes nothing', async () => {
  served.set('/link.tgz', await makeTar([{ name: 'bp', type: 'symlink', linkname: victim }]));
  const r = await push({ '.buildpacks': `http://127.0.0.1:${archivePort}/link.tgz\n` });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /the buildpack archive was refused: entry "bp" is a symbolic link/);
  assertVictimUntouched();
  // The download ran as the unprivileged fetch identity, not as the root server.
  assert.ok(fetchUids.length > 0 && fetchUids.every((u) => u !== undefined && u !== 0), `fetch uids ${fetchUids}`);
});

test('an oversized archive, a gzip bomb and an entry-count bomb are refused', async () => {
  served.set('/big.tgz', 'endless');
  served.set('/bomb.tgz', sizeBomb(600));
  served.set('/many.tgz', await countBomb(20_001));
  const big = await push({ '.buildpacks': `http://127.0.0.1:${archivePort}/big.tgz\n` });
  assert.match(big.out, /the buildpack archive was refused: it is larger than 64 MiB/);
  const bomb = await push({ '.buildpacks': `http://127.0.0.1:${archivePort}/bomb.tgz\n` });
  assert.match(bomb.out, /the buildpack archive was refused: it expands to more than 512 MiB/);
  const many = await push({ '.buildpacks': `http://127.0.0.1:${archivePort}/many.tgz\n` });
  assert.match(many.out, /the buildpack archive was refused: it has more than 20000 entries/);
  for (const r of [big, bomb, many]) assert.notEqual(r.code, 0, r.out);
  // Nothing of them is left in the fetch cache.
  const cache = path.join(srv.paths.caches, app, 'buildpacks');
  assert.deepEqual(fs.existsSync(cache) ? fs.readdirSync(cache) : [], []);
});

test("a fetch failure shows the fetcher's own reason, with credentials redacted", async () => {
  const r = await push({ '.buildpacks': `http://user:s3cret-pw@127.0.0.1:${archivePort}/missing.tgz\n` });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /HTTP 404/);
  assert.ok(!r.out.includes('s3cret-pw'), r.out);
});

test('disabling a user cancels the build they have running; nothing of it is released', async () => {
  const email = `leaver-${randomBytes(3).toString('hex')}@example.com`;
  const leaver = await createUser(srv, email);
  const name = uniq('sec-leaver');
  assert.equal((await api(srv, 'POST', '/apps', { name }, leaver)).status, 201);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-sec-'));
  dirs.push(dir);
  const files = { ...CNB_BP('1.0.0'), 'bp/bin/build': '#!/bin/sh\necho building-slowly\nsleep 300\n' };
  for (const [f, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), body, { mode: f.includes('/bin/') ? 0o755 : 0o644 });
  }
  await git(['init', '-q'], dir);
  await git(['add', '-A'], dir);
  await git(['commit', '-qm', 'slow'], dir);
  const pushing = git(['push', gitUrl(srv, name, leaver), 'HEAD:main'], dir, 240_000);
  type B = Array<{ id: string; status: string }>;
  const deadline = Date.now() + 120_000;
  let running = false;
  while (!running && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    const b = await api<B>(srv, 'GET', `/apps/${name}/builds`);
    running = b.body[0]?.status === 'running';
  }
  assert.ok(running, 'the build started');
  const cli = path.join(DIST, 'cli', 'main.js');
  const out = await exec(process.execPath, [cli, 'users:disable', email], { env: srv.cliEnv(), timeout: 60_000 });
  assert.match(out.stdout, /done \(1 running build cancelled\)/, out.stdout);
  const push = await pushing;
  assert.notEqual(push.code, 0);
  assert.match(push.stdout + push.stderr, /build cancelled: its user was disabled by/);
  const builds = await api<B>(srv, 'GET', `/apps/${name}/builds`);
  assert.notEqual(builds.body[0].status, 'running');
  assert.notEqual(builds.body[0].status, 'succeeded');
  const releases = await api<unknown[]>(srv, 'GET', `/apps/${name}/releases`);
  assert.deepEqual(releases.body, [], 'a cancelled build made a release');
});
