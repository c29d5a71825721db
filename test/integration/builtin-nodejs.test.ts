import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  build,
  createWorkspace,
  detect,
  httpGet,
  layerDigest,
  listLayers,
  prepareNextBuild,
  processes,
  seedLayers,
  startApp,
  writeAppFile,
  type Workspace,
} from '../helpers/run-buildpack';

// The Node.js buildpack run directly (bin/detect, bin/build in the stack's build image) and the
// result run in the run image. Real registry downloads, real npm/yarn/pnpm, real containers.

// The default Node.js layers of the first cold build, reused by the error-case tests so they do
// not download the same runtime again (the cold path has its own tests).
let seed: Workspace | undefined;
after(() => seed?.cleanup());

async function buildAndServe(ws: Workspace, t: { diagnostic(s: string): void }, label: string) {
  const d = await detect(ws, 'nodejs');
  assert.equal(d.code, 0, d.output);
  const b = await build(ws, 'nodejs');
  assert.equal(b.code, 0, b.output);
  t.diagnostic(`${label}: build ${b.ms} ms`);
  return b;
}

async function get(ws: Workspace): Promise<string> {
  const app = await startApp(ws, ['nodejs']);
  try {
    const res = await httpGet(app.url + '/');
    assert.equal(res.status, 200);
    return res.body;
  } finally {
    app.stop();
  }
}

test('Express with package-lock: builds, answers on $PORT, warm rebuild reuses everything, dependency and engines changes rebuild', async (t) => {
  const ws = createWorkspace('node-express');
  try {
    const cold = await buildAndServe(ws, t, 'cold');
    assert.match(cold.output, /Downloading Node\.js \d+\.\d+\.\d+/);
    assert.match(cold.output, /npm ci/);
    assert.match(cold.output, /build\.js: wrote build-info\.json/, 'the build script ran');
    assert.deepEqual(listLayers(ws, 'nodejs').node, { launch: true, build: true, cache: true });
    assert.deepEqual(listLayers(ws, 'nodejs').modules, { launch: true, build: false, cache: true });
    assert.deepEqual(processes(ws, ['nodejs']).web.command, ['npm', 'start']);
    const body = JSON.parse(await get(ws));
    assert.equal(body.message, 'hello from express');
    assert.equal(body.env, 'production', 'NODE_ENV defaults to production at launch');
    assert.equal(body.built, true, 'devDependencies were there for the build script');
    assert.equal(body.devDepsPruned, true, 'devDependencies are pruned from the launch layer');
    const nodeDigest = layerDigest(ws, 'nodejs', 'node');
    seed = createWorkspace('node-express');
    seedLayers(seed, ws, 'nodejs', ['node', 'semver']);
    const modulesDigest = layerDigest(ws, 'nodejs', 'modules');

    // Warm: a one-line source change.
    prepareNextBuild(ws);
    writeAppFile(
      ws,
      'server.js',
      fs.readFileSync(path.join(ws.appDir, 'server.js'), 'utf8').replace('version: 1', 'version: 2'),
    );
    const warm = await buildAndServe(ws, t, 'warm');
    assert.match(warm.output, /Using cached Node\.js \d+\.\d+\.\d+/);
    assert.match(warm.output, /resolved \d+ min ago; kept for a day/, 'no registry lookup on a warm build');
    assert.match(warm.output, /Reusing node_modules/);
    assert.doesNotMatch(
      warm.output,
      /Downloading|npm ci|added \d+ packages/,
      'a warm build downloads and installs nothing',
    );
    assert.match(warm.output, /build\.js: wrote build-info\.json/, 'build scripts still run');
    assert.equal(layerDigest(ws, 'nodejs', 'node'), nodeDigest, 'same runtime layer');
    assert.equal(layerDigest(ws, 'nodejs', 'modules'), modulesDigest, 'same node_modules layer');
    assert.equal(JSON.parse(await get(ws)).version, 2);

    // A dependency change updates the previous node_modules in place (lockfile and package.json
    // both change, in sync): npm install on the old tree, not a fresh npm ci.
    prepareNextBuild(ws);
    const pkg = JSON.parse(fs.readFileSync(path.join(ws.appDir, 'package.json'), 'utf8'));
    pkg.dependencies['is-number'] = '^7.0.0';
    delete pkg.devDependencies;
    writeAppFile(ws, 'package.json', JSON.stringify(pkg, null, 2));
    const lock = JSON.parse(fs.readFileSync(path.join(ws.appDir, 'package-lock.json'), 'utf8'));
    lock.packages[''].dependencies = pkg.dependencies;
    delete lock.packages[''].devDependencies;
    delete lock.packages['node_modules/is-number'].dev;
    writeAppFile(ws, 'package-lock.json', JSON.stringify(lock, null, 2));
    const deps = await buildAndServe(ws, t, 'dependency change');
    assert.match(deps.output, /Using cached Node\.js/);
    assert.match(deps.output, /Updating the previous node_modules/);
    assert.match(deps.output, /npm install --no-save/);
    assert.doesNotMatch(deps.output, /npm ci/);
    assert.notEqual(layerDigest(ws, 'nodejs', 'modules'), modulesDigest);
    assert.equal(JSON.parse(await get(ws)).devDepsPruned, false, 'is-number is now a production dependency');

    // An engines change swaps the Node layer.
    prepareNextBuild(ws);
    pkg.engines = { node: '22.x' };
    writeAppFile(ws, 'package.json', JSON.stringify(pkg, null, 2));
    const engines = await buildAndServe(ws, t, 'engines change');
    assert.match(engines.output, /engines\.node "22\.x" resolves to 22\.\d+\.\d+/);
    assert.match(engines.output, /Downloading Node\.js 22\./);
    assert.match(engines.output, /npm ci/, 'native ABI may differ: dependencies reinstall');
    assert.notEqual(layerDigest(ws, 'nodejs', 'node'), nodeDigest);
    assert.match(JSON.parse(await get(ws)).node, /^v22\./);
  } finally {
    ws.cleanup();
  }
});

for (const pm of ['yarn', 'pnpm'] as const) {
  test(`Express with a ${pm} lockfile installs with ${pm} and answers; warm build installs nothing`, async (t) => {
    const ws = createWorkspace(`node-${pm}`);
    try {
      const cold = await buildAndServe(ws, t, `${pm} cold`);
      assert.match(cold.output, new RegExp(`Package manager: ${pm} \\d+`));
      assert.match(cold.output, pm === 'yarn' ? /yarn install --frozen-lockfile/ : /pnpm install --frozen-lockfile/);
      assert.match(await get(ws), new RegExp(`^hello from ${pm}: v\\d+`));
      prepareNextBuild(ws);
      const warm = await buildAndServe(ws, t, `${pm} warm`);
      assert.match(warm.output, new RegExp(`Using cached ${pm} \\d+`));
      assert.match(warm.output, /Reusing node_modules/);
      assert.doesNotMatch(warm.output, /Downloading|Installing dependencies/);
      assert.match(await get(ws), /^hello from/);
    } finally {
      ws.cleanup();
    }
  });
}

test("Yarn 4 (berry) with the node-modules linker, from the registry's @yarnpkg/cli-dist", async (t) => {
  const ws = createWorkspace('node-yarn-berry');
  try {
    const cold = await buildAndServe(ws, t, 'yarn berry cold');
    assert.match(cold.output, /Downloading @yarnpkg\/cli-dist 4\.18\.1/);
    assert.match(cold.output, /yarn install --immutable/);
    assert.match(await get(ws), /^hello from yarn berry: v\d+/);
    prepareNextBuild(ws);
    const warm = await buildAndServe(ws, t, 'yarn berry warm');
    assert.match(warm.output, /Reusing node_modules/);
    assert.doesNotMatch(warm.output, /Downloading|Installing dependencies/);
  } finally {
    ws.cleanup();
  }
});

test("Yarn 4 Plug'n'Play: no node_modules; packages ship in .yarn/cache and node loads .pnp.cjs at launch", async (t) => {
  const ws = createWorkspace('node-yarn-pnp');
  try {
    if (seed) seedLayers(ws, seed, 'nodejs', ['node', 'semver']);
    const b = await buildAndServe(ws, t, 'yarn pnp');
    assert.match(b.output, /yarn install --immutable/);
    assert.ok(fs.existsSync(path.join(ws.appDir, '.pnp.cjs')));
    assert.ok(
      fs.readdirSync(path.join(ws.appDir, '.yarn', 'cache')).some((f) => f.startsWith('express-npm-')),
      'express zip in the app',
    );
    assert.ok(!fs.existsSync(path.join(ws.appDir, 'node_modules')));
    assert.match(await get(ws), /^hello from yarn pnp: v\d+/);
  } finally {
    ws.cleanup();
  }
});

test('a non-default engines range (">=22 <23") without a lockfile or start script runs `node <main>`', async (t) => {
  const ws = createWorkspace('node-engines');
  try {
    const b = await buildAndServe(ws, t, 'engines range');
    assert.match(b.output, /engines\.node ">=22 <23" resolves to 22\.\d+\.\d+/);
    assert.match(b.output, /npm install/);
    assert.deepEqual(processes(ws, ['nodejs']).web.command, ['node', 'app.js']);
    assert.match(await get(ws), /^engines app on v22\.\d+\.\d+ NODE_ENV=production$/);
  } finally {
    ws.cleanup();
  }
});

test("a native addon compiles with the stack's toolchain and Node's bundled headers, and again on a warm build", async (t) => {
  const ws = createWorkspace('node-native');
  try {
    const cold = await buildAndServe(ws, t, 'native cold');
    assert.match(cold.output, /CC\(target\) Release\/obj\.target\/hello\/hello\.o/);
    assert.match(
      cold.output,
      /-Dnode_root_dir=\/layers\/slipway_nodejs\/node/,
      'headers from the node layer, no download',
    );
    assert.equal(await get(ws), 'native addon ok');
    prepareNextBuild(ws);
    const warm = await buildAndServe(ws, t, 'native warm');
    assert.match(warm.output, /Reusing node_modules/);
    assert.match(warm.output, /Building the app's native addon/, 'the fresh app dir gets its addon again');
    assert.equal(await get(ws), 'native addon ok');
  } finally {
    ws.cleanup();
  }
});

test('detect passes only with a package.json and records the engines range in the plan', async () => {
  const ws = createWorkspace('node-engines');
  try {
    const d = await detect(ws, 'nodejs');
    assert.equal(d.code, 0);
    assert.match(d.plan, /name = "node"/);
    assert.match(d.plan, /version = ">=22 <23"/);
    fs.rmSync(path.join(ws.appDir, 'package.json'));
    assert.equal((await detect(ws, 'nodejs')).code, 100);
  } finally {
    ws.cleanup();
  }
});

const errorCases: Array<{ fixture: string; message: RegExp; hint: RegExp }> = [
  {
    fixture: 'node-bad-range',
    message: /No Node\.js version matches engines\.node "99\.x"/,
    hint: /Hint: Available major versions: .*22/,
  },
  {
    fixture: 'node-out-of-sync',
    message: /package-lock\.json is out of sync with package\.json/,
    hint: /Hint: Run `npm install` locally, commit the updated package-lock\.json/,
  },
  { fixture: 'node-no-start', message: /No way to start a web process/, hint: /Hint: Add "scripts": \{"start"/ },
  {
    fixture: 'node-build-fails',
    message: /The build script failed \(exit 2\)/,
    hint: /Hint: Reproduce it with: npm run build/,
  },
];
for (const c of errorCases) {
  test(`${c.fixture}: the build fails with a clear message`, async () => {
    const ws = createWorkspace(c.fixture);
    try {
      if (seed) seedLayers(ws, seed, 'nodejs', ['node', 'semver']);
      const b = await build(ws, 'nodejs');
      assert.notEqual(b.code, 0, b.output);
      assert.match(b.output, c.message);
      assert.match(b.output, c.hint);
      if (c.fixture === 'node-build-fails')
        assert.match(b.output, /TS2322: the build is broken on purpose/, "the script's own output is shown");
      if (c.fixture === 'node-out-of-sync') assert.match(b.output, /Missing: is-odd/, "npm's own explanation is shown");
    } finally {
      ws.cleanup();
    }
  });
}

test('an invalid engines range is reported as such', async () => {
  const ws = createWorkspace('node-bad-range');
  try {
    writeAppFile(
      ws,
      'package.json',
      JSON.stringify({ name: 'x', engines: { node: 'twenty' }, scripts: { start: 'node -e 0' } }),
    );
    if (seed) seedLayers(ws, seed, 'nodejs', ['node', 'semver']);
    const b = await build(ws, 'nodejs');
    assert.notEqual(b.code, 0);
    assert.match(b.output, /engines\.node "twenty" in package\.json is not a valid semver range/);
  } finally {
    ws.cleanup();
  }
});

test('an app pinning Node 4 gets a plain "not supported" message, not a SyntaxError blamed on engines.npm', async () => {
  const ws = createWorkspace('node-engines');
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(ws.appDir, 'package.json'), 'utf8'));
    pkg.engines = { node: '4.x', npm: '2.x' };
    writeAppFile(ws, 'package.json', JSON.stringify(pkg));
    const b = await build(ws, 'nodejs');
    assert.notEqual(b.code, 0);
    assert.match(b.output, /Node\.js 4\.x is not supported; the oldest supported line is 14/);
    assert.match(b.output, /Set engines\.node in package\.json to a supported line, for example "\d+\.x"/);
    assert.doesNotMatch(b.output, /SyntaxError|No npm version matches/);
    assert.doesNotMatch(b.output, /Downloading Node\.js 4\./, 'nothing is downloaded for an unsupported line');
  } finally {
    ws.cleanup();
  }
});
