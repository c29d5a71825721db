import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Docker from 'dockerode';
import { build, type BuildOptions, type BuildResult } from '../../buildpacks/lifecycle';
import { loadIntoDocker } from '../../stacks/builder';
import { createTestHome, type TestHome } from '../helpers/home';
import { FIXTURES_DIR, httpGet } from '../helpers/run-buildpack';

// The built-in buildpacks through the platform's own lifecycle and default order (no buildpacks
// named): real detect, restore, export into the store, `docker load`, `docker run` of the image.

const docker = new Docker();
const suffix = randomBytes(3).toString('hex');
const sh = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', timeout: 120_000 }).trim();
let home: TestHome;
const images = new Set<string>();

before(async () => {
  home = await createTestHome('builtin-lc');
});
after(() => {
  try {
    const ids = sh('ps', '-aq', '--filter', `label=io.slipway.home=${home.home}`);
    if (ids) sh('rm', '-f', ...ids.split('\n'));
  } catch {
    /* none */
  }
  for (const img of images) {
    try {
      sh('rmi', '-f', img);
    } catch {
      /* already gone */
    }
  }
  home?.cleanup();
});

let n = 0;
async function lcBuild(
  app: string,
  fixtureDir: string,
  over: Partial<BuildOptions> = {},
): Promise<{ result: BuildResult; output: string; ms: number }> {
  n++;
  const lines: string[] = [];
  const started = Date.now();
  const result = await build({
    appName: app,
    sourceDir: fixtureDir,
    workspaceDir: path.join(home.builds, `b${n}`),
    cacheDir: path.join(home.caches, app),
    store: home.store,
    docker,
    stack: 'bookworm',
    imageRef: `apps/${app}:b${n}`,
    env: {},
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.home, 'io.slipway.managed': 'true' },
    output: (l) => lines.push(l),
    ...over,
  }).catch((e) => {
    throw new Error(`${e}\n${lines.join('\n')}`);
  });
  return { result, output: lines.join('\n'), ms: Date.now() - started };
}

async function toDocker(r: BuildResult): Promise<string> {
  const name = `slipway-test-builtin-${suffix}:${r.manifestDigest.slice(7, 19)}`;
  await loadIntoDocker(docker, home.store, r.manifestDigest, [name]);
  images.add(name);
  return name;
}

async function serve(image: string, pathname = '/'): Promise<{ body: string; stop(): void; url: string }> {
  const id = sh(
    'run',
    '-d',
    '--label',
    'io.slipway.managed=true',
    '--label',
    `io.slipway.home=${home.home}`,
    '-e',
    'PORT=5000',
    '-p',
    '127.0.0.1::5000',
    image,
  );
  const stop = () => {
    try {
      sh('rm', '-f', id);
    } catch {
      /* gone */
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const port = sh('port', id, '5000/tcp').split('\n')[0].split(':').pop();
      const url = `http://127.0.0.1:${port}`;
      const res = await httpGet(url + pathname);
      return { body: res.body, stop, url };
    } catch (e) {
      if (Date.now() > deadline || sh('inspect', '-f', '{{.State.Running}}', id) !== 'true') {
        const logs = execFileSync('docker', ['logs', id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        stop();
        throw new Error(`the image did not answer: ${e}\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function layerShas(r: BuildResult, bp: string): Promise<Record<string, string | undefined>> {
  const m = await home.store.readManifest(r.manifestDigest);
  const config = JSON.parse((await home.store.readBlob(m.config.digest)).toString('utf8'));
  const meta = JSON.parse(config.config.Labels['io.buildpacks.lifecycle.metadata']);
  const b = meta.buildpacks.find((x: { key: string }) => x.key === bp);
  return Object.fromEntries(Object.entries(b.layers as Record<string, { sha?: string }>).map(([k, v]) => [k, v.sha]));
}

test('the Express app through the default order: image answers; a warm rebuild reuses the runtime and node_modules layers', async (t) => {
  const src = fs.mkdtempSync(path.join(home.home, 'src-'));
  fs.cpSync(path.join(FIXTURES_DIR, 'node-express'), src, { recursive: true });
  const cold = await lcBuild('express', src);
  t.diagnostic(`lifecycle cold build ${cold.ms} ms (${JSON.stringify(cold.result.phaseTimings)})`);
  assert.deepEqual(
    cold.result.buildpacks.map((b) => b.id),
    ['slipway/nodejs'],
  );
  assert.equal(cold.result.defaultProcess, 'web');
  assert.equal(cold.result.processTypes.web, 'npm start');
  const image = await toDocker(cold.result);
  const app = await serve(image);
  try {
    const body = JSON.parse(app.body);
    assert.equal(body.message, 'hello from express');
    assert.equal(body.env, 'production');
    assert.equal(body.devDepsPruned, true);
  } finally {
    app.stop();
  }
  const size = Number(sh('image', 'inspect', '-f', '{{.Size}}', image));
  t.diagnostic(`image size ${(size / 1e6).toFixed(0)} MB`);

  fs.writeFileSync(
    path.join(src, 'server.js'),
    fs.readFileSync(path.join(src, 'server.js'), 'utf8').replace('version: 1', 'version: 2'),
  );
  const warm = await lcBuild('express', src, { previousImageRef: cold.result.imageRef });
  t.diagnostic(`lifecycle warm build ${warm.ms} ms (${JSON.stringify(warm.result.phaseTimings)})`);
  assert.match(warm.output, /Using cached Node\.js/);
  assert.match(warm.output, /Reusing node_modules/);
  assert.doesNotMatch(warm.output, /Downloading|npm ci/);
  const before = await layerShas(cold.result, 'slipway/nodejs');
  const afterShas = await layerShas(warm.result, 'slipway/nodejs');
  assert.ok(before.node && before.modules, JSON.stringify(before));
  assert.equal(afterShas.node, before.node, 'same runtime layer digest');
  assert.equal(afterShas.modules, before.modules, 'same node_modules layer digest');
  const app2 = await serve(await toDocker(warm.result));
  try {
    assert.equal(JSON.parse(app2.body).version, 2);
  } finally {
    app2.stop();
  }
});

test('identical Node.js runtime layers of two apps are one blob in the store', async () => {
  // A different app on the same engines range: other code, same runtime.
  const srcB = fs.mkdtempSync(path.join(home.home, 'src-'));
  fs.cpSync(path.join(FIXTURES_DIR, 'node-engines'), srcB, { recursive: true });
  fs.writeFileSync(
    path.join(srcB, 'app.js'),
    "require('http').createServer((q, s) => s.end('b')).listen(process.env.PORT);\n",
  );
  const a = await lcBuild('share-a', path.join(FIXTURES_DIR, 'node-engines'));
  const b = await lcBuild('share-b', srcB);
  const shaA = (await layerShas(a.result, 'slipway/nodejs')).node;
  const shaB = (await layerShas(b.result, 'slipway/nodejs')).node;
  assert.ok(shaA);
  assert.equal(shaB, shaA);
  const layersA = (await home.store.readManifest(a.result.manifestDigest)).layers.map((l) => l.digest);
  const layersB = (await home.store.readManifest(b.result.manifestDigest)).layers.map((l) => l.digest);
  assert.ok(layersA.filter((d) => layersB.includes(d)).length >= 2, 'run image and Node layers shared');
});

test('Node.js + Procfile through the lifecycle: web, worker, and release as the release command', async () => {
  const r = await lcBuild('procfile', path.join(FIXTURES_DIR, 'node-procfile'));
  assert.deepEqual(
    r.result.buildpacks.map((b) => b.id),
    ['slipway/nodejs', 'slipway/procfile'],
  );
  assert.deepEqual(Object.keys(r.result.processTypes).sort(), ['web', 'worker']);
  assert.match(r.result.releaseCommand ?? '', /release phase ran/);
  const app = await serve(await toDocker(r.result));
  try {
    assert.equal(app.body, 'web from procfile argc=4');
  } finally {
    app.stop();
  }
});

test('a static site through the lifecycle: nginx from the image answers with the SPA fallback', async () => {
  const r = await lcBuild('static', path.join(FIXTURES_DIR, 'static-site'));
  assert.deepEqual(
    r.result.buildpacks.map((b) => b.id),
    ['slipway/static'],
  );
  const app = await serve(await toDocker(r.result), '/app/deep/link');
  try {
    assert.match(app.body, /static index/);
    const missing = await httpGet(app.url + '/missing');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /custom not found page/);
  } finally {
    app.stop();
  }
});

test('an Aptfile app through the lifecycle (Aptfile + Procfile group): the package runs in the image', async () => {
  const r = await lcBuild('aptapp', path.join(FIXTURES_DIR, 'aptfile'));
  assert.deepEqual(
    r.result.buildpacks.map((b) => b.id),
    ['slipway/apt', 'slipway/procfile'],
  );
  const image = await toDocker(r.result);
  const out = sh('run', '--rm', '--label', `io.slipway.home=${home.home}`, '--entrypoint', '/cnb/process/web', image);
  assert.match(out, /^jq-1\.6\ntree v2\.1\.0/);
});
