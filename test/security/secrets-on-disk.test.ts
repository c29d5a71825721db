import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';
import { api, createUser, git, gitUrl, makeRepo } from '../integration/git-helpers';

/**
 * Issue 12 item 6 (and the CLI's escape-sequence stripping, which needs a real build's output):
 * one real server, a non-admin user, one real `git push` whose build fails after the workspace was
 * filled. The kept workspace must not hold the app's config values; the CLI must not replay the
 * control sequences the pushed source made the buildpack print; destroying the app must take its
 * build directories with it; state files are owner-only and app repositories check pushed objects.
 */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
const NEUTRAL = tmpDir('slipway-cwd-');
const APP = 'leftovers-app';
const SECRET = `s3cret-${randomBytes(12).toString('hex')}`;
/** OSC 0 (set the terminal title) and CSI 2J (clear the screen), as an app could print them. */
const EVIL = '\x1b]0;pwned\x07\x1b[2J';

let srv: TestServer;
let token: string;
let repo: string;
let buildId: string;
let pushOutput = '';
const LOUD_APP = 'loud-app';
let loudRepo: string | undefined;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], {
      env: srv.cliEnv(token),
      cwd: NEUTRAL,
      timeout: 60_000,
      maxBuffer: 8 << 20,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Every regular file under dir whose bytes contain needle (symlinks are not followed). */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

before(async () => {
  srv = await startTestServer();
  token = await createUser(srv, 'tenant@example.com');
  const c = await cli(['apps:create', APP, '--no-remote']);
  assert.equal(c.code, 0, c.stderr);
  const s = await cli(['config:set', `SECRET_MARK=${SECRET}`, '-a', APP]);
  assert.equal(s.code, 0, s.stderr);
  // A Procfile whose second line is malformed: the Procfile buildpack fails the build (after the
  // workspace, platform/env included, was filled) and quotes the line, escape sequences and all.
  repo = await makeRepo({ Procfile: `web: echo hello\nworker = ./work.sh ${EVIL}done\n` });
  const push = await git(['push', gitUrl(srv, APP, token), 'HEAD:main'], repo);
  pushOutput = push.stdout + push.stderr;
  assert.notEqual(push.code, 0, `the push should fail:\n${pushOutput}`);
  const builds = await api<Array<{ id: string; status: string }>>(srv, 'GET', `/apps/${APP}/builds`, undefined, token);
  assert.equal(builds.status, 200);
  assert.equal(builds.body[0]?.status, 'failed', JSON.stringify(builds.body));
  buildId = builds.body[0].id;
  // A second app whose release command prints the sequences into the app's log stream.
  assert.equal((await cli(['apps:create', LOUD_APP, '--no-remote'])).code, 0);
  loudRepo = await makeRepo({ Procfile: "release: printf '\\033]0;pwned\\007\\033[2J release-said-hi\\n'; exit 1\n" });
  const loud = await git(['push', gitUrl(srv, LOUD_APP, token), 'HEAD:main'], loudRepo);
  assert.notEqual(loud.code, 0, `the release command fails the deploy:\n${loud.stdout}${loud.stderr}`);
});
after(async () => {
  await srv?.stop();
  fs.rmSync(NEUTRAL, { recursive: true, force: true });
  for (const d of [repo, loudRepo]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('a failed build keeps its workspace for inspection, but without the config values in it', () => {
  assert.match(pushOutput, /Procfile line 2 is malformed/);
  const ws = path.join(srv.paths.builds, buildId, 'workspace');
  assert.ok(fs.existsSync(path.join(ws, 'app', 'Procfile')), `the failed build's workspace is kept: ${ws}`);
  assert.equal(fs.existsSync(path.join(ws, 'platform', 'env')), false, 'platform/env is removed after the build');
  assert.deepEqual(filesContaining(path.join(srv.paths.builds, buildId), SECRET), []);
});

test('the CLI strips terminal control sequences from build output and logs', async () => {
  const out = await cli(['builds:output', buildId, '-a', APP]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /Procfile line 2 is malformed: worker = \.\/work\.sh done/);
  assert.doesNotMatch(out.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, 'no control characters reach the terminal');
  // The server's copy is untouched (it is the user's own output): only what the CLI prints is cleaned.
  const raw = await api<string>(srv, 'GET', `/apps/${APP}/builds/${buildId}/output`, undefined, token);
  assert.ok(String(raw.body).includes(EVIL), 'the stored build output still has the bytes the buildpack printed');
  // The app's own output in its log stream (here its release command's), through `slipway logs`.
  const rawLogs = await api<string>(srv, 'GET', `/apps/${LOUD_APP}/logs?lines=200`, undefined, token);
  assert.ok(
    String(rawLogs.body).includes(EVIL),
    `the log stream holds what the app printed:\n${JSON.stringify(rawLogs.body)}`,
  );
  const logs = await cli(['logs', '-a', LOUD_APP, '-n', '200']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /app\[release\.\d+\]: +release-said-hi/);
  assert.doesNotMatch(logs.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
});

test('the database, its WAL files and the key file are 0600 in a 0700 directory', () => {
  const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
  assert.equal(mode(path.dirname(srv.paths.db)), '700');
  for (const f of [srv.paths.db, `${srv.paths.db}-wal`, `${srv.paths.db}-shm`, srv.paths.keyFile]) {
    assert.ok(fs.existsSync(f), f);
    assert.equal(mode(f), '600', f);
  }
});

test('app repositories check every pushed object (receive.fsckObjects)', async () => {
  const r = await git([
    '--git-dir',
    path.join(srv.paths.repos, `${APP}.git`),
    'config',
    '--get',
    'receive.fsckObjects',
  ]);
  assert.equal(r.stdout.trim(), 'true');
});

test('a push carrying a malformed object is refused by git before any build starts', async () => {
  // A tree with the same name twice (git's fsck: duplicateEntries, an error), committed by hand.
  const dir = await makeRepo({ 'README.md': 'hello\n' });
  try {
    const blob = (await git(['rev-parse', 'HEAD:README.md'], dir)).stdout.trim();
    const entry = Buffer.concat([Buffer.from('100644 README.md\0'), Buffer.from(blob, 'hex')]);
    const treeFile = path.join(dir, '.git', 'bad-tree');
    fs.writeFileSync(treeFile, Buffer.concat([entry, entry]));
    const tree = (await git(['hash-object', '-t', 'tree', '--literally', '-w', treeFile], dir)).stdout.trim();
    const commit = (await git(['commit-tree', tree, '-m', 'duplicate entries'], dir)).stdout.trim();
    const before = (await api<unknown[]>(srv, 'GET', `/apps/${LOUD_APP}/builds`, undefined, token)).body.length;
    const push = await git(['push', gitUrl(srv, LOUD_APP, token), `${commit}:refs/heads/main`], dir);
    assert.notEqual(push.code, 0);
    assert.match(push.stdout + push.stderr, /duplicateEntries|fsck error|unpacker error/i);
    assert.equal(
      (await api<unknown[]>(srv, 'GET', `/apps/${LOUD_APP}/builds`, undefined, token)).body.length,
      before,
      'no build was started',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('destroying an app removes its build directories and caches', async () => {
  const dir = path.join(srv.paths.builds, buildId);
  assert.ok(fs.existsSync(path.join(dir, 'build.log')));
  const d = await cli(['apps:destroy', '-a', APP, '--confirm', APP]);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(fs.existsSync(dir), false, `${dir} is left after apps:destroy`);
  assert.equal(fs.existsSync(path.join(srv.paths.caches, APP)), false);
  assert.deepEqual(
    filesContaining(srv.home, SECRET),
    [],
    "nothing of the app's config is left in clear text under SLIPWAY_HOME",
  );
});
