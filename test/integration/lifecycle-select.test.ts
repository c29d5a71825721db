import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import Docker from 'dockerode';
import { build, type BuildOptions } from '../../buildpacks/lifecycle';
import { loadIntoDocker } from '../../stacks/builder';
import { createTestHome, type TestHome } from '../helpers/home';

const FIX = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const docker = new Docker();
let home: TestHome;
const images = new Set<string>();
const suffix = randomBytes(3).toString('hex');
let n = 0;

before(async () => {
  home = await createTestHome('lcselect');
});
after(() => {
  for (const img of images) {
    try {
      execFileSync('docker', ['rmi', '-f', img], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }
  home?.cleanup();
});

function opts(over: Partial<BuildOptions>): BuildOptions & { lines: string[] } {
  n++;
  const lines: string[] = [];
  return {
    appName: 'lc-select',
    sourceDir: path.join(FIX, 'apps', 'lifecycle-hello'),
    workspaceDir: path.join(home.builds, `s${n}`),
    cacheDir: path.join(home.caches, `lc-select-${n}`),
    store: home.store,
    docker,
    stack: 'bookworm',
    imageRef: `apps/lc-select:s${n}`,
    env: {},
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.home },
    allowHostPaths: true,
    output: (l) => lines.push(l),
    lines,
    ...over,
  };
}

async function runImage(manifestDigest: string, ...args: string[]): Promise<string> {
  const name = `slipway-test-lcs-${suffix}:${manifestDigest.slice(7, 19)}`;
  if (!images.has(name)) {
    await loadIntoDocker(docker, home.store, manifestDigest, [name]);
    images.add(name);
  }
  return execFileSync('docker', ['run', '--rm', '--label', `io.slipway.home=${home.home}`, ...args, name], {
    encoding: 'utf8',
    timeout: 60_000,
  }).trim();
}

test('composite buildpack: a failing group falls through; an optional member with unmet requires is dropped; [[or]] resolves', async () => {
  const o = opts({ buildpacks: ['test/composite'], buildpackDirs: [path.join(FIX, 'buildpacks')] });
  const r = await build(o);
  assert.deepEqual(r.buildpacks, [{ id: 'test/or', version: '1.0.0' }]);
  const out = o.lines.join('\n');
  assert.match(out, /name = "or-thing"/);
  assert.match(out, /chosen = "alternative"/);
  assert.doesNotMatch(out, /opt-unmet must not build/);
  assert.equal(await runImage(r.manifestDigest), 'or');
});

test('project.toml: a buildpack inside the repo, [[io.buildpacks.build.env]], and exclude', async () => {
  const r = await build(opts({ sourceDir: path.join(FIX, 'apps', 'lifecycle-project') }));
  assert.deepEqual(r.buildpacks, [{ id: 'project/local', version: '0.1.0' }]);
  const out = await runImage(r.manifestDigest);
  assert.match(out, /^FROM_PROJECT=yes$/m);
  assert.match(out, /^index\.txt$/m);
  assert.doesNotMatch(out, /secret-notes|^tmp$/m);
});

test('an explicit buildpack list wins over project.toml', async () => {
  const r = await build(
    opts({
      sourceDir: path.join(FIX, 'apps', 'lifecycle-project'),
      buildpacks: [path.join(FIX, 'buildpacks', 'cnb-consumer')],
    }),
  );
  assert.deepEqual(
    r.buildpacks.map((b) => b.id),
    ['test/consumer'],
  );
});

test('the default order (built-in buildpacks) builds a Procfile app', async () => {
  const o = opts({ sourceDir: path.join(FIX, 'apps', 'lifecycle-procfile') });
  const r = await build(o);
  assert.ok(
    r.buildpacks.some((b) => b.id === 'slipway/procfile'),
    JSON.stringify(r.buildpacks),
  );
  assert.deepEqual(Object.keys(r.processTypes).sort(), ['web', 'worker']);
  assert.equal(await runImage(r.manifestDigest, '-e', 'PORT=5000'), 'procfile-web 5000');
});

test('server paths are refused unless the build is local; repo paths may not escape the app', async () => {
  await assert.rejects(
    build(opts({ allowHostPaths: false, buildpacks: [path.join(FIX, 'buildpacks', 'cnb-or')] })),
    /is a path on the server/,
  );
  await assert.rejects(
    build(opts({ buildpacks: [], sourceDir: path.join(FIX, 'apps', 'lifecycle-escape') })),
    /is a link or not a directory in the app/,
  );
});

test('a buildpack by .tgz URL is downloaded once and cached by URL', async () => {
  const { createServer } = await import('node:http');
  const tgz = execFileSync('tar', ['-czf', '-', '-C', path.join(FIX, 'buildpacks'), 'cnb-or']);
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end(tgz);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/or.tgz`;
    const cacheDir = path.join(home.caches, 'url-cache');
    // The test server is on loopback: allowed by name, as an operator would an internal server.
    const allow = [`127.0.0.1:${(server.address() as { port: number }).port}`];
    const a = await build(opts({ buildpacks: [url], cacheDir, buildpackFetchAllow: allow }));
    const b = await build(opts({ buildpacks: [url], cacheDir, buildpackFetchAllow: allow }));
    assert.deepEqual(a.buildpacks, [{ id: 'test/or', version: '1.0.0' }]);
    assert.equal(b.manifestDigest, a.manifestDigest);
    assert.equal(hits, 1);
  } finally {
    server.close();
  }
});

test('buildpack URLs are limited to public transports (no file://, no ssh)', async () => {
  for (const url of [
    'file:///var/lib/slipway/repos/other.git',
    'ssh://git@example.com/x.git',
    'git@example.com:x.git',
  ]) {
    await assert.rejects(build(opts({ buildpacks: [url] })), /is not allowed/, url);
  }
});
