import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { readImage } from '../../buildpacks/lifecycle/analyze';
import { openImageStore, type ImageStore } from '../../buildpacks/oci/layout';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { api, createApp, getVia, git, gitUrl, makeRepo, uniq } from './git-helpers';

/**
 * Issue 18 through the real entry points: apps pushed with the real git CLI and built on the real
 * bookworm stack; a "stack update" made fast as the rebase bench does it (the current run image
 * plus one small layer, tagged as the stack's new run image in the server's store); then
 * `slipway stacks:rebase bookworm` (the CLI binary) and POST /apps/:app/rebase. Four apps:
 * two plain Procfile apps, one whose web process refuses to start when the update's file exists
 * (its new release fails its start, so it must stay on v1), and one built by a buildpack that
 * marked its launch layer `rebasable = false` (refused as needing a rebuild).
 */
const UPDATE_FILE = 'etc/slipway-test-update';
const SERVE = `perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => $ENV{PORT}, Listen => 16, ReuseAddr => 1) or die "listen: $!"; while ($c = $s->accept) { sysread $c, $_, 4096; print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello\\n"; close $c }'`;

let srv: TestServer;
let store: ImageStore;
let archives: http.Server;
const dirs: string[] = [];
const plain = [uniq('rb-a'), uniq('rb-b')];
const fragile = uniq('rb-fragile');
const native = uniq('rb-native');
let oldRunLayers: string[] = [];
let newRunLayers: string[] = [];
/** The package the test's "security update" bumps, and the stack version before it. */
let bumped = { name: '', from: '', to: '' };
let oldVersion = '';

/** A CNB buildpack (served as .tgz) whose launch layer says it must be rebuilt for a new base. */
function nativeBuildpack(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bp-'));
  dirs.push(dir);
  const bp = path.join(dir, 'native-bp');
  fs.mkdirSync(path.join(bp, 'bin'), { recursive: true });
  fs.writeFileSync(
    path.join(bp, 'buildpack.toml'),
    'api = "0.10"\n[buildpack]\nid = "test/native"\nversion = "1.0.0"\n[[stacks]]\nid = "*"\n',
  );
  fs.writeFileSync(path.join(bp, 'bin', 'detect'), '#!/bin/bash\nexit 0\n', { mode: 0o755 });
  fs.writeFileSync(
    path.join(bp, 'bin', 'build'),
    [
      '#!/bin/bash',
      'set -euo pipefail',
      'mkdir -p "$CNB_LAYERS_DIR/native/bin"',
      `cat > "$CNB_LAYERS_DIR/native/bin/serve" <<'X'\n#!/bin/bash\nexec ${SERVE}\nX`,
      'chmod +x "$CNB_LAYERS_DIR/native/bin/serve"',
      `printf '[types]\\nlaunch = true\\n[metadata]\\nrebasable = false\\n' > "$CNB_LAYERS_DIR/native.toml"`,
      `printf '[[processes]]\\ntype = "web"\\ncommand = ["serve"]\\ndefault = true\\n' > "$CNB_LAYERS_DIR/launch.toml"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const tgz = path.join(dir, 'native-bp.tgz');
  execFileSync('tar', ['czf', tgz, '-C', dir, 'native-bp']);
  return tgz;
}

async function push(app: string, files: Record<string, string>): Promise<void> {
  await createApp(srv, app);
  const work = await makeRepo(files);
  dirs.push(work);
  const r = await git(['push', gitUrl(srv, app), 'main'], work);
  assert.equal(r.code, 0, `push ${app}: ${r.stderr}`);
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(DIST, 'cli', 'main.js'), ...args],
      { env: srv.cliEnv(), timeout: 300_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

type Rel = { version: number; status: string; current: boolean; imageDigest: string; description: string };
const releasesOf = async (app: string) => (await api<Rel[]>(srv, 'GET', `/apps/${app}/releases`)).body;
const current = async (app: string) => (await releasesOf(app)).find((r) => r.current)!;
const layersOf = async (digest: string) => (await store.readManifest(digest)).layers.map((l) => l.digest);

/**
 * The stack update: the current run image plus one small layer, tagged as the new :latest. The
 * layer adds a file and bumps one package's version in the stack's package list (/.slipway-packages).
 */
async function updateRunImage(): Promise<void> {
  const base = (await readImage(store, 'stacks/bookworm-run:latest'))!;
  const list = execFileSync('tar', ['-xzOf', store.blobPath(base.manifest.layers[0].digest), './.slipway-packages'], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = list.split('\n').find((l) => l.startsWith('libc6 '))!;
  bumped = { name: 'libc6', from: line.split(' ')[1], to: `${line.split(' ')[1]}+test1` };
  // The suite column the stack builder records: this version came from the security suite.
  const newList = list.replace(line, `libc6 ${bumped.to} bookworm-security`);
  const p = pack();
  p.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  p.entry({ name: UPDATE_FILE, mode: 0o644, mtime: new Date(0) }, `simulated security update ${Date.now()}\n`);
  p.entry({ name: './.slipway-packages', mode: 0o644, mtime: new Date(0) }, newList);
  p.finalize();
  const layer = await store.putLayer(p as unknown as Readable);
  const layers = base.manifest.layers.map((d, i) => ({ descriptor: d, diffId: base.config.rootfs.diff_ids[i] }));
  const img = await store.writeImage(
    { ...base.config, history: [...(base.config.history ?? []), { created_by: 'test: security update' }] },
    [...layers, layer],
  );
  await store.tag('stacks/bookworm-run:test-update', img.manifest);
  await store.tag('stacks/bookworm-run:latest', img.manifest);
  oldRunLayers = base.manifest.layers.map((l) => l.digest);
  newRunLayers = (await store.readManifest(img.manifest.digest)).layers.map((l) => l.digest);
}

before(async () => {
  const tgz = nativeBuildpack();
  archives = http.createServer((_req, res) => res.end(fs.readFileSync(tgz)));
  await new Promise<void>((r) => archives.listen(0, '127.0.0.1', r));
  const port = (archives.address() as net.AddressInfo).port;
  srv = await startTestServer({
    router: true,
    env: { SLIPWAY_BUILDPACK_FETCH_ALLOW: `127.0.0.1:${port}`, SLIPWAY_STACK_REBASE_CONCURRENCY: '2' },
  });
  store = openImageStore(srv.paths.images);
  for (const app of plain) await push(app, { Procfile: `web: ${SERVE}\n` });
  await push(fragile, { Procfile: `web: test ! -e /${UPDATE_FILE} && exec ${SERVE}\n` });
  await push(native, { '.buildpacks': `http://127.0.0.1:${port}/native-bp.tgz\n`, 'README.md': 'native\n' });
  for (const app of [...plain, fragile, native]) {
    await waitFor(
      `${app} served`,
      async () => (await getVia(srv.httpPort, `${app}.localhost`).catch(() => ({ status: 0 }))).status === 200,
      { timeoutMs: 30_000 },
    );
  }
});

after(async () => {
  await srv?.stop();
  archives?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('before a stack update a rebase is a no-op: it says so and makes no release', async () => {
  const r = await api<{ status: string; message: string }>(srv, 'POST', `/apps/${plain[0]}/rebase`);
  assert.equal(r.status, 200);
  assert.equal(r.body.status, 'current');
  assert.match(r.body.message, /already runs on bookworm-run/);
  assert.equal((await releasesOf(plain[0])).length, 1);
});

test(
  'stacks:rebase after a stack update: every rebasable app gets a new release on the new run image, served throughout; the one that fails stays on v1; the native one is refused',
  { timeout: 240_000 },
  async (t) => {
    const before = new Map<string, Rel>();
    for (const app of [...plain, fragile, native]) before.set(app, await current(app));
    oldVersion = (await api<Array<{ name: string; version: string }>>(srv, 'GET', '/stacks')).body.find(
      (s) => s.name === 'bookworm',
    )!.version;
    await updateRunImage();

    // Bounded load through the router on the apps that must keep serving.
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const load = Promise.all(
      [...plain, fragile].map(async (app) => {
        while (!stop) {
          const r = await getVia(srv.httpPort, `${app}.localhost`).catch((e: Error) => ({
            status: 0,
            body: e.message,
          }));
          if (r.status === 200) ok++;
          else failures.push(`${app}: ${r.status} ${r.body.slice(0, 80)}`);
          await new Promise((res) => setTimeout(res, 20));
        }
      }),
    );
    const r = await cli(['stacks:rebase', 'bookworm']);
    await new Promise((res) => setTimeout(res, 1500));
    stop = true;
    await load;
    t.diagnostic(`${r.stdout.trim()}\nload: ${ok} requests ok, ${failures.length} failed`);

    assert.equal(r.code, 1, 'exit 1: one app failed\n' + r.stdout + r.stderr);
    for (const app of plain) assert.match(r.stdout, new RegExp(`\\[\\d/4\\] ${app}: v1 → v2 ok \\d+\\.\\d s`));
    assert.match(r.stdout, new RegExp(`\\[\\d/4\\] ${fragile}: v1 → v2 failed`));
    assert.match(
      r.stdout,
      new RegExp(`\\[\\d/4\\] ${native}: needs a rebuild \\(buildpack test/native marked its launch layer "native"`),
    );
    assert.match(r.stdout, /Rebase of bookworm: 2 rebased, 0 already current, 1 need a rebuild, 1 failed/);
    assert.match(r.stdout, /slipway builds:create -a APP/);
    assert.deepEqual(failures, [], `failed requests during the rebase (${ok} ok)`);
    assert.ok(ok > 20, `load ran (${ok} requests)`);

    for (const app of plain) {
      const now = await current(app);
      assert.equal(now.version, 2);
      assert.equal(now.description, 'Rebase onto bookworm-run test-update (1 package updated, 1 security)');
      const oldLayers = await layersOf(before.get(app)!.imageDigest);
      const newLayers = await layersOf(now.imageDigest);
      // The old image sat on the old run image; the new one on the new run image, app layers the same blobs.
      assert.deepEqual(oldLayers.slice(0, oldRunLayers.length), oldRunLayers);
      assert.deepEqual(newLayers, [...newRunLayers, ...oldLayers.slice(oldRunLayers.length)]);
      assert.ok(oldLayers.length > oldRunLayers.length);
      // Its owners see it: the release line in the app's log.
      const logs = await cli(['logs', '-a', app, '--source', 'api']);
      assert.match(
        logs.stdout,
        /Release v2 created by \S+@\S+: Rebase onto bookworm-run test-update \(1 package updated, 1 security\)/,
      );
    }
    const f = await releasesOf(fragile);
    assert.equal(f.find((x) => x.version === 2)?.status, 'failed');
    assert.equal((await current(fragile)).version, 1);
    assert.equal((await getVia(srv.httpPort, `${fragile}.localhost`)).status, 200);
    assert.equal((await releasesOf(native)).length, 1);
    assert.equal((await getVia(srv.httpPort, `${native}.localhost`)).status, 200);

    // slipway stacks: how many apps run on each version.
    const stacks = JSON.parse((await cli(['stacks', '--json'])).stdout) as Array<{
      name: string;
      version: string;
      appsByVersion: Record<string, number>;
    }>;
    const bw = stacks.find((s) => s.name === 'bookworm')!;
    assert.equal(bw.version, 'test-update');
    assert.deepEqual(bw.appsByVersion, { [oldVersion]: 2, 'test-update': 2 });
  },
);

test('stacks:diff lists the package the update changed, marked as a security update', async () => {
  const r = await cli(['stacks:diff', oldVersion, 'test-update']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`1 updated \\(1 security\\), 0 added, 0 removed`));
  assert.ok(
    r.stdout.includes(`~ ${bumped.name} ${bumped.from} → ${bumped.to} (security: bookworm-security)`),
    r.stdout,
  );
  const json = JSON.parse((await cli(['stacks:diff', oldVersion, 'test-update', '--json'])).stdout) as {
    updated: Array<{ name: string; security?: boolean; suite?: string }>;
  };
  assert.deepEqual(json.updated, [
    { name: bumped.name, from: bumped.from, to: bumped.to, suite: 'bookworm-security', security: true },
  ]);
  const bad = await cli(['stacks:diff', oldVersion, 'no-such-version']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /has no run image version "no-such-version"/);
});

test('the native app: releases:rebase refuses it with "needs a rebuild" and the builds:create hint; nothing changes', async () => {
  const r = await cli(['releases:rebase', '-a', native]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /needs a rebuild/);
  assert.match(r.stderr, new RegExp(`slipway builds:create -a ${native}`));
  assert.equal((await releasesOf(native)).length, 1);
});

test(
  'after the rebase: a second rebase is a no-op, and a rebased app rolls back to its pre-update release',
  { timeout: 120_000 },
  async () => {
    const again = await cli(['releases:rebase', '-a', plain[0]]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already runs on bookworm-run test-update; nothing to do/);
    assert.equal((await releasesOf(plain[0])).length, 2);

    const rb = await cli(['releases:rollback', 'v1', '-a', plain[0]]);
    assert.equal(rb.code, 0, rb.stderr);
    const now = await current(plain[0]);
    assert.equal(now.version, 3);
    assert.deepEqual(
      await layersOf(now.imageDigest),
      await layersOf((await releasesOf(plain[0])).find((x) => x.version === 1)!.imageDigest),
    );
    assert.equal((await getVia(srv.httpPort, `${plain[0]}.localhost`)).status, 200);
  },
);
