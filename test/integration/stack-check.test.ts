import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { readImage } from '../../buildpacks/lifecycle/analyze';
import { openImageStore } from '../../buildpacks/oci/layout';
import { STACK_HOME } from '../helpers/home';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

/**
 * The stack update check (issue 18 item 4) against a Debian mirror this test makes and serves on
 * loopback: at first its indexes hold exactly the versions the bookworm images record ("up to
 * date"); then a .deb built with dpkg-deb, a higher version of a package in the stack, is added
 * to bookworm-security (and another to bookworm-updates) and indexed with dpkg-scanpackages.
 * Never the real mirror: no test depends on Debian publishing updates. The server runs with
 * SLIPWAY_STACK_UPDATE_CHECK=daily and the first check 1 s after start (the schedule's run is
 * the first event checked). No rebuild happens here: the mirror has no debootstrap base.
 */
let srv: TestServer;
let mirror: http.Server;
let slow = 0;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-mirror-'));
/** name → the lowest version the build and run images record (what the check compares). */
const recorded = new Map<string, string>();
const snapshot: Array<[string, string]> = [];

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(DIST, 'cli', 'main.js'), ...args],
      { env: srv.cliEnv(), timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const indexDir = (suite: string) =>
  path.join(root, suite.endsWith('-security') ? 'debian-security' : 'debian', 'dists', suite, 'main', 'binary-amd64');

/** A suite's index: stanzas for NAME VERSION pairs plus whatever .debs sit in its pool (dpkg-scanpackages). */
function writeIndex(suite: string, entries: Array<[string, string]>): void {
  const dir = indexDir(suite);
  fs.mkdirSync(dir, { recursive: true });
  const top = suite.endsWith('-security') ? path.join(root, 'debian-security') : path.join(root, 'debian');
  const pool = path.join(top, 'pool', suite);
  const scanned = fs.existsSync(pool)
    ? execFileSync('dpkg-scanpackages', ['--multiversion', `pool/${suite}`, '/dev/null'], {
        cwd: top,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
    : '';
  const text =
    entries.map(([n, v]) => `Package: ${n}\nVersion: ${v}\nArchitecture: amd64\n`).join('\n') +
    (entries.length ? '\n' : '') +
    scanned;
  for (const f of ['Packages', 'Packages.xz', 'Packages.gz']) fs.rmSync(path.join(dir, f), { force: true });
  fs.writeFileSync(path.join(dir, 'Packages'), text);
  // The main suite as .xz (as deb.debian.org serves it), the others as .gz: both decoders run.
  execFileSync(suite === 'bookworm' ? 'xz' : 'gzip', ['-k', path.join(dir, 'Packages')]);
}

/** A real .deb (dpkg-deb) of NAME at VERSION in SUITE's pool. */
function buildDeb(suite: string, name: string, version: string): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-deb-'));
  fs.mkdirSync(path.join(work, 'DEBIAN'));
  fs.mkdirSync(path.join(work, 'usr/share/doc', name), { recursive: true });
  fs.writeFileSync(path.join(work, 'usr/share/doc', name, 'slipway-test'), 'test update\n');
  fs.writeFileSync(
    path.join(work, 'DEBIAN/control'),
    `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: Slipway tests <tests@example.com>\nDescription: test update of ${name}\n`,
  );
  const top = suite.endsWith('-security') ? path.join(root, 'debian-security') : path.join(root, 'debian');
  fs.mkdirSync(path.join(top, 'pool', suite), { recursive: true });
  execFileSync(
    'dpkg-deb',
    ['--root-owner-group', '-b', work, path.join(top, 'pool', suite, `${name}_${version}_all.deb`)],
    {
      stdio: 'ignore',
    },
  );
  fs.rmSync(work, { recursive: true, force: true });
}

function dpkgLess(a: string, b: string): boolean {
  try {
    execFileSync('dpkg', ['--compare-versions', a, 'lt', b]);
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  mirror = http.createServer((req, res) => {
    const file = path.join(root, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    setTimeout(() => {
      if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        res.statusCode = 404;
        return void res.end();
      }
      fs.createReadStream(file).pipe(res);
    }, slow);
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  const port = (mirror.address() as net.AddressInfo).port;
  // The mirror's snapshot: the versions the stack's images record, in bookworm.
  const store = openImageStore(path.join(STACK_HOME, 'images'));
  for (const kind of ['build', 'run']) {
    const img = (await readImage(store, `stacks/bookworm-${kind}:latest`))!;
    const list = execFileSync('tar', ['-xzOf', store.blobPath(img.manifest.layers[0].digest), './.slipway-packages'], {
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    });
    for (const l of list.split('\n')) {
      const [n, v] = l.split(' ');
      if (!n || !v) continue;
      if (!snapshot.some(([a, b]) => a === n && b === v)) snapshot.push([n, v]);
      if (!recorded.has(n) || (recorded.get(n) !== v && dpkgLess(v, recorded.get(n)!))) recorded.set(n, v);
    }
  }
  writeIndex('bookworm', snapshot);
  writeIndex('bookworm-updates', []);
  writeIndex('bookworm-security', []);
  srv = await startTestServer({
    env: {
      SLIPWAY_DEBIAN_MIRROR: `http://127.0.0.1:${port}/debian`,
      SLIPWAY_STACK_UPDATE_CHECK: 'daily',
      SLIPWAY_STACK_UPDATE_CHECK_DELAY_S: '1',
    },
  });
});

after(async () => {
  await srv?.stop();
  mirror?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

type Ev = { action: string; actor: string; message: string };
const events = async () => JSON.parse((await cli(['events', '--json', '-n', '200'])).stdout) as Ev[];

test('the daily check runs a while after start, finds the mirror up to date and records it (no rebuild)', async () => {
  await waitFor(
    'the scheduled stack.check event',
    async () => (await events()).some((e) => e.action === 'stack.check' && /^bookworm: /.test(e.message)),
    { timeoutMs: 60_000 },
  );
  const ev = (await events()).find((e) => e.action === 'stack.check' && /^bookworm: /.test(e.message))!;
  assert.equal(ev.actor, 'slipway');
  assert.equal(ev.message, `bookworm: up to date (${recorded.size} packages checked)`);
  assert.ok(!(await events()).some((e) => e.action === 'stack.update'), 'nothing to update: no rebuild');
  // The daily run checks every stack built here, one after the other: wait for its end before the
  // next test's check (one at a time).
  await waitFor('the scheduled run to end', async () => /stack update check: done/.test(srv.output()), {
    timeoutMs: 60_000,
  });
  assert.match(srv.output(), /stack update check: daily, first in 1 s/);
  assert.match(srv.output(), /stack\.check: bookworm: up to date/);
});

test('stacks:check with the mirror holding what the stack has: "up to date"', async () => {
  const r = await cli(['stacks:check', 'bookworm']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `bookworm: up to date (${recorded.size} packages checked)`);
});

test('stacks:check finds a security update (a .deb in bookworm-security) and a regular one in bookworm-updates', async () => {
  const sec = recorded.has('tzdata') ? 'tzdata' : [...recorded.keys()][0];
  const upd = recorded.has('netbase') ? 'netbase' : [...recorded.keys()][1];
  const secTo = `${recorded.get(sec)}+slipwaytest1`;
  // A lower version in -updates than what the stack has is no update.
  const updTo = `${recorded.get(upd)}+slipwaytest1`;
  buildDeb('bookworm-security', sec, secTo);
  buildDeb('bookworm-updates', upd, updTo);
  writeIndex('bookworm-security', []);
  writeIndex('bookworm-updates', [[sec, `0~old`]]);

  const r = await cli(['stacks:check', 'bookworm']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'bookworm: 2 packages have updates (1 security)');
  assert.ok(lines.includes(`~ ${sec} ${recorded.get(sec)} → ${secTo} (security: bookworm-security)`), r.stdout);
  assert.ok(lines.includes(`~ ${upd} ${recorded.get(upd)} → ${updTo} (bookworm-updates)`), r.stdout);

  const json = JSON.parse((await cli(['stacks:check', 'bookworm', '--json'])).stdout) as {
    results: Array<{ stack: string; security: number; updates: Array<{ name: string; security: boolean }> }>;
  };
  assert.equal(json.results[0].security, 1);
  assert.deepEqual(
    json.results[0].updates.map((u) => [u.name, u.security]).sort(),
    [
      [sec, true],
      [upd, false],
    ].sort(),
  );
  assert.ok(
    (await events()).some(
      (e) =>
        e.action === 'stack.check' &&
        e.actor === srv.email &&
        e.message === 'bookworm: 2 packages have updates (1 security)',
    ),
    'the check is an event by the admin who ran it',
  );
});

test('one check at a time: a second check while one runs is refused with a hint', async () => {
  slow = 3000;
  try {
    const first = cli(['stacks:check', 'bookworm']);
    await new Promise((r) => setTimeout(r, 1000));
    const second = await cli(['stacks:check', 'bookworm']);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /a stack check is already running/);
    assert.match(second.stderr, /one stack update or update check runs at a time/);
    assert.equal((await first).code, 0);
  } finally {
    slow = 0;
  }
});

test('a mirror without the suite is an error, not "up to date"', async () => {
  fs.rmSync(path.join(root, 'debian-security'), { recursive: true, force: true });
  const r = await cli(['stacks:check', 'bookworm']);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /bookworm: the update check failed: no package index for bookworm-security at http:\/\/127\.0\.0\.1:\d+\/debian-security/,
  );
});
