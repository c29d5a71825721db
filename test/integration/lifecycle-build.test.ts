import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import Docker from 'dockerode';
import { build, rebase, type BuildOptions } from '../../buildpacks/lifecycle';
import { isSlipwayError } from '../../common/errors';
import { loadIntoDocker } from '../../stacks/builder';
import { createTestHome, type TestHome } from '../helpers/home';

const FIX = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const BP = (n: string) => path.join(FIX, 'buildpacks', n);
const APP = path.join(FIX, 'apps', 'lifecycle-hello');
const docker = new Docker();
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', timeout: 120_000 }).trim();

let home: TestHome;
const images = new Set<string>();
const lines: string[] = [];
const suffix = randomBytes(3).toString('hex');

before(async () => {
  home = await createTestHome('lifecycle');
});
after(() => {
  for (const img of images) {
    try {
      sh('docker', 'rmi', '-f', img);
    } catch {
      /* already gone */
    }
  }
  home?.cleanup();
});

let n = 0;
function opts(over: Partial<BuildOptions> = {}): BuildOptions {
  n++;
  return {
    appName: 'lc-app',
    sourceDir: APP,
    workspaceDir: path.join(home.builds, `b${n}`),
    cacheDir: path.join(home.caches, 'lc-app'),
    store: home.store,
    docker,
    stack: 'bookworm',
    imageRef: `apps/lc-app:b${n}`,
    env: {},
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.home },
    allowHostPaths: true,
    output: (l) => lines.push(l),
    buildpacks: [BP('cnb-greeter'), BP('legacy-hello'), BP('cnb-consumer'), BP('legacy-second')],
    ...over,
  };
}

async function toDocker(manifestDigest: string): Promise<string> {
  const name = `slipway-test-lc-${suffix}:${manifestDigest.slice(7, 19)}`;
  await loadIntoDocker(docker, home.store, manifestDigest, [name]);
  images.add(name);
  return name;
}

const run = (image: string, ...args: string[]) =>
  sh(
    'docker',
    'run',
    '--rm',
    '--label',
    `io.slipway.home=${home.home}`,
    ...args.slice(0, args.indexOf('--') + 1 || 0).filter((a) => a !== '--'),
    image,
    ...args.slice(args.indexOf('--') + 1),
  );

const SECRET = `sekrit-${randomBytes(8).toString('hex')}`;
let first: Awaited<ReturnType<typeof build>>;

test('a mixed group (CNB, legacy, CNB, legacy) builds an image with processes from launch.toml, release and Procfile', async () => {
  first = await build(opts({ env: { SECRET_TOKEN: SECRET } }));
  assert.deepEqual(
    first.buildpacks.map((b) => b.id),
    ['test/greeter', 'legacy/legacy-hello', 'test/consumer', 'legacy/legacy-second'],
  );
  assert.equal(first.defaultProcess, 'web');
  assert.equal(first.processTypes.web, 'greet');
  assert.equal(first.processTypes.legacy, 'echo legacy $LEGACY_PROFILE $LEGACY_DEFAULT');
  assert.equal(first.processTypes.clock, 'echo from-procfile', 'the Procfile wins over bin/release per type');
  const out = lines.join('\n');
  assert.match(out, /-----> Hello app detected/);
  assert.match(out, /       Creating tool layer/);
  assert.match(out, /secret file: present; in env: $/m, 'ENV_DIR has config vars, compile env does not');
  for (const k of ['analyze', 'detect', 'restore', 'build', 'export']) assert.ok(k in first.phaseTimings, k);
});

test('layer types: build layers and legacy exports reach later buildpacks; scratch layers do not', async () => {
  const image = await toDocker(first.manifestDigest);
  const saw = run(image, 'cat /app/consumer-saw.txt');
  assert.match(saw, /greet=\/layers\/test_greeter\/tool\/bin\/greet/);
  assert.match(saw, /BUILD_ONLY=yes/);
  assert.match(saw, /scratch=hidden/);
  assert.match(saw, /legacy_exported=from-legacy/);
  assert.match(saw, /secret_present=yes/, 'CNB buildpacks get the platform env');
  assert.match(run(image, 'cat /app/second-saw.txt'), /LEGACY_EXPORTED=from-legacy\ngreet=\/layers/);
  assert.equal(run(image, 'cat /app/legacy-compiled.txt'), 'compiled');
  // cache-only and scratch layers are not in the image.
  assert.equal(run(image, 'ls /layers/test_greeter'), 'tool');
  // The launch layer's SBOM is in the image, where the CNB spec puts it.
  assert.match(run(image, 'cat /layers/sbom/launch/test_greeter/tool/sbom.cdx.json'), /"bomFormat":"CycloneDX"/);
});

test('launcher: default process, env files with suffixes, per-process env, profile scripts, one-off commands', async () => {
  const image = await toDocker(first.manifestDigest);
  assert.equal(run(image), 'hello from greet: world');
  assert.equal(run(image, '-e', 'GREETING=hi', '--'), 'hi from greet: world', '.default does not override');
  assert.equal(run(image, '--entrypoint', '/cnb/process/worker', '--'), 'worker hello worker-only');
  assert.equal(run(image, '--entrypoint', '/cnb/process/legacy', '--'), 'legacy 1 d1');
  assert.equal(
    run(image, '-e', 'LEGACY_DEFAULT=mine', '--entrypoint', '/cnb/process/legacy', '--'),
    'legacy 1 mine',
    'release config_vars are defaults',
  );
  assert.equal(
    run(image, 'echo $PROFILE_CNB $LEGACY_PROFILE ${BUILD_ONLY:-nobuild} ${WORKER_VAR:-none}'),
    '1 1 nobuild none',
  );
  assert.equal(run(image, '-e', 'LIST=a', '--', 'echo $LIST'), 'a,first', '.append with .delim');
  assert.equal(
    run(image, 'echo', '$PATH'),
    '/layers/test_greeter/tool/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  );
  assert.equal(
    run(image, '--', '--', 'printenv', 'GREETING'),
    'hello',
    'launcher -- runs a command directly with the launch env',
  );
  assert.equal(run(image, '--user', '0', '--entrypoint', 'id', '--', '-u'), '0');
  assert.equal(run(image, 'id -u; pwd'), '1000\n/app');
  assert.equal(run(image, 'echo "$EXECD_VAR"'), 'from "exec.d" for hello', 'exec.d output (fd 3 TOML) joins the env');
});

test('secret scan: a config var value is in no layer and not in the image config', async () => {
  const m = await home.store.readManifest(first.manifestDigest);
  const config = (await home.store.readBlob(m.config.digest)).toString('utf8');
  assert.ok(!config.includes(SECRET));
  for (const l of m.layers) {
    // Stack layers are gzip; the exporter's own layers are plain tars (docs/lifecycle.md).
    const blob = await home.store.readBlob(l.digest);
    const raw = l.mediaType.endsWith('+gzip') ? gunzipSync(blob) : blob;
    assert.ok(!raw.includes(SECRET), `layer ${l.digest} contains the secret`);
  }
  assert.ok(!(await home.store.readBlob(first.manifestDigest)).includes(SECRET));
});

test('a no-change rebuild reuses every layer and writes no new blobs', async () => {
  const blobsDir = path.join(home.images, 'blobs', 'sha256');
  const before = fs.readdirSync(blobsDir).length;
  lines.length = 0;
  const again = await build(opts({ env: { SECRET_TOKEN: SECRET }, previousImageRef: first.imageRef }));
  assert.equal(again.layersWritten, 0);
  assert.equal(again.manifestDigest, first.manifestDigest);
  assert.equal(fs.readdirSync(blobsDir).length, before, 'no new blobs in the store');
  assert.match(lines.join('\n'), /Reusing tool layer/, 'cache layer restored from the per-app cache');
  console.log(`no-change rebuild timings: ${JSON.stringify(again.phaseTimings)}`);
});

test('two clean builds with separate caches give the same manifest digest', async () => {
  const a = await build(opts({ env: { SECRET_TOKEN: SECRET }, cacheDir: path.join(home.caches, 'repro-a') }));
  const b = await build(opts({ env: { SECRET_TOKEN: 'other' }, cacheDir: path.join(home.caches, 'repro-b') }));
  assert.equal(a.manifestDigest, b.manifestDigest);
  assert.equal(a.manifestDigest, first.manifestDigest);
});

test('a failing buildpack names itself, the phase and the exit code, and keeps the workspace', async () => {
  const o = opts({ buildpacks: [BP('cnb-greeter'), BP('cnb-failing')] });
  await assert.rejects(build(o), (err: unknown) => {
    assert.ok(isSlipwayError(err));
    assert.equal(err.code, 'BUILD_FAILED');
    assert.match(err.message, /test\/failing@2\.0\.0 failed: bin\/build exited with 3/);
    assert.deepEqual([err.details?.phase, err.details?.buildpack, err.details?.exitCode], ['build', 'test/failing', 3]);
    assert.ok(fs.existsSync(path.join(o.workspaceDir, 'group.toml')));
    return true;
  });
  assert.match(lines.join('\n'), /       about to fail/);
});

test('detection failure lists every buildpack tried and what it said', async () => {
  const empty = fs.mkdtempSync(path.join(home.home, 'empty-'));
  fs.writeFileSync(path.join(empty, 'README'), 'nothing to see');
  await assert.rejects(
    build(opts({ sourceDir: empty, buildpacks: [BP('cnb-greeter'), BP('legacy-hello')] })),
    (err: unknown) => {
      assert.ok(isSlipwayError(err));
      assert.match(err.message, /no buildpack group detected this app/);
      assert.match(err.message, /test\/greeter@1\.0\.0 did not pass \(exit 100\)/);
      assert.match(err.message, /legacy\/legacy-hello@0\.0\.0 did not pass \(exit 1\)/);
      assert.equal(err.details?.phase, 'detect');
      return true;
    },
  );
});

test('rebase puts the app layers on a new run image unchanged, and the image still runs', async () => {
  const runRef = 'stacks/bookworm-run:latest';
  const runDesc = (await home.store.resolve(runRef))!;
  const runManifest = await home.store.readManifest(runDesc.digest);
  const runConfig = await home.store.readJson<any>(runManifest.config.digest);
  // A "patched" run image: the same base plus one layer with a marker file.
  const { pack } = await import('tar-stream');
  const tar = pack();
  tar.entry({ name: 'etc/slipway-patched', mode: 0o644, mtime: new Date(0) }, 'patched\n');
  tar.finalize();
  const patch = await home.store.putLayer(require('node:stream').Readable.from(tar));
  const layers = [
    ...runManifest.layers.map((d, i) => ({ descriptor: d, diffId: runConfig.rootfs.diff_ids[i] })),
    patch,
  ];
  const newRun = await home.store.writeImage({ ...runConfig, history: undefined }, layers);
  await home.store.tag(`stacks/bookworm-run:patched-${suffix}`, newRun.manifest);

  const r = await rebase({
    store: home.store,
    imageRef: first.imageRef,
    newRunImageRef: `stacks/bookworm-run:patched-${suffix}`,
    outRef: 'apps/lc-app:rebased',
  });
  const oldM = await home.store.readManifest(first.manifestDigest);
  const newM = await home.store.readManifest(r.manifestDigest);
  const appLayersOld = oldM.layers.slice(runManifest.layers.length);
  assert.deepEqual(newM.layers.slice(runManifest.layers.length + 1), appLayersOld, 'app layers are the same blobs');
  assert.equal(newM.layers.length, oldM.layers.length + 1);
  const image = await toDocker(r.manifestDigest);
  assert.equal(run(image, 'cat /etc/slipway-patched'), 'patched');
  assert.equal(run(image), 'hello from greet: world');
});

test('symlinks a buildpack plants to host files are never followed by the platform', async () => {
  // env.launch/STOLEN -> /etc/hostname: ignored (not a regular file), the app never sees it.
  const ok = await build(opts({ buildpacks: [BP('cnb-sneaky')], env: { SNEAKY: 'env' } }));
  const image = await toDocker(ok.manifestDigest);
  assert.equal(run(image), 'none');
  // A launch layer that is a link to /etc, or launch.toml linked to /etc/passwd: the build fails.
  for (const mode of ['layer', 'toml']) {
    await assert.rejects(
      build(opts({ buildpacks: [BP('cnb-sneaky')], env: { SNEAKY: mode } })),
      /point outside the build workspace/,
      mode,
    );
  }
});

test('limits: uid 1000, no Docker socket, pids and memory caps; the wall clock limit and cancel remove the container', async () => {
  const labelArgs = [
    'ps',
    '-a',
    '-q',
    '--filter',
    `label=io.slipway.home=${home.home}`,
    '--filter',
    'label=io.slipway.role=build',
  ];
  const t0 = Date.now();
  await assert.rejects(
    build(
      opts({ buildpacks: [BP('cnb-slow')], limits: { pids: 256, memoryMb: 512 }, signal: AbortSignal.timeout(4000) }),
    ),
    (err: unknown) => {
      assert.ok(isSlipwayError(err));
      assert.equal(err.code, 'TIMEOUT');
      assert.match(err.message, /longer than its time limit/);
      return true;
    },
  );
  assert.ok(Date.now() - t0 < 30_000);
  const out = lines.join('\n');
  assert.match(out, /pids\.max=256/);
  assert.match(out, /memory\.max=536870912/);
  assert.match(out, /uid=1000 docker_sock=no/);
  assert.equal(sh('docker', ...labelArgs), '', 'no build container left after the timeout');

  const ac = new AbortController();
  const p = build(
    opts({ buildpacks: [BP('cnb-slow')], signal: ac.signal, output: (l) => l.includes('started') && ac.abort() }),
  );
  await assert.rejects(p, /the build was cancelled/);
  assert.equal(sh('docker', ...labelArgs), '', 'no build container left after a cancel');
});

test('malformed launch.toml or layer toml fails the build with an error naming the file and the buildpack', async () => {
  const cases: Array<[string, RegExp]> = [
    ['launch', /buildpack test\/badtoml launch\.toml .*launch\.toml is not valid TOML/],
    ['layer', /x\.toml: "types\.launch" must be true or false/],
    ['command', /launch\.toml \(buildpack test\/badtoml\): processes\.command must be a non-empty array/],
  ];
  for (const [mode, re] of cases) {
    await assert.rejects(build(opts({ buildpacks: [BP('cnb-badtoml')], env: { BADTOML: mode } })), (err: unknown) => {
      assert.ok(isSlipwayError(err), String(err));
      assert.equal(err.code, 'BUILD_FAILED');
      assert.match(err.message, re);
      return true;
    });
  }
});
