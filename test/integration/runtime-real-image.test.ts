import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { build } from '../../buildpacks/lifecycle';
import { httpGet } from '../../server/runtime/healthchecks';
import { createRuntimeFixture, SERVER_JS, waitFor, type RuntimeFixture } from './runtime-fixture';

/**
 * The runtime against an image written by the real buildpack lifecycle (built-in procfile
 * buildpack): /cnb/process/<type> links to the real launcher, one-offs go through
 * /cnb/lifecycle/launcher, the Procfile's release: runs as the release phase. The app brings its
 * own node binary (the host's), so no download is needed.
 */
let fx: RuntimeFixture;
let src: string;
before(async () => {
  fx = await createRuntimeFixture('rt-real');
  await fx.runtime.start();
  src = fs.mkdtempSync(path.join(fx.home.home, 'src-'));
  fs.mkdirSync(path.join(src, 'bin'));
  fs.copyFileSync(process.execPath, path.join(src, 'bin', 'node'));
  fs.chmodSync(path.join(src, 'bin', 'node'), 0o755);
  fs.writeFileSync(path.join(src, 'server.js'), SERVER_JS.replace('__CODE__', 'lifecycle-built'));
  fs.writeFileSync(
    path.join(src, 'Procfile'),
    [
      'web: bin/node server.js',
      'worker: while true; do echo "tick $DYNO"; sleep 1; done',
      'release: echo "release phase of $SLIPWAY_RELEASE"',
    ].join('\n') + '\n',
  );
});
after(async () => {
  await fx?.cleanup();
});

test(
  'a lifecycle-built image deploys, scales, runs one-offs through the launcher, and is removed on destroy',
  { timeout: 240_000 },
  async () => {
    const app = fx.createApp();
    const appId = fx.state.apps.require(app).id;
    fx.state.configVars.update(appId, { GREETING: 'hi from config' });
    const buildId = `b-${randomBytes(6).toString('hex')}`;
    fx.state.builds.create({ id: buildId, appId, sourceVersion: null, userId: fx.user.id, logPath: '/dev/null' });
    const out: string[] = [];
    const result = await build({
      appName: app,
      sourceDir: src,
      workspaceDir: path.join(fx.home.builds, buildId),
      cacheDir: path.join(fx.home.caches, app),
      store: fx.home.store,
      docker: fx.docker,
      stack: 'bookworm',
      imageRef: `apps/${app}:${buildId}`,
      env: fx.state.configVars.all(appId),
      caBundle: '/etc/ssl/certs/ca-certificates.crt',
      labels: { 'io.slipway.home': fx.home.home },
      buildpacks: ['slipway/procfile'],
      output: (l) => out.push(l),
    });
    fx.state.builds.finish(buildId, { status: 'succeeded', imageDigest: result.manifestDigest });
    assert.deepEqual(Object.keys(result.processTypes).sort(), ['web', 'worker']);

    const lines: string[] = [];
    const rel = await fx.releases.createFromBuild({
      appName: app,
      buildId,
      imageRef: result.imageRef,
      imageDigest: result.manifestDigest,
      processTypes: result.processTypes,
      releaseCommand: result.releaseCommand,
      user: fx.user,
      output: (l) => lines.push(l),
    });
    assert.equal(rel.status, 'succeeded');
    assert.ok(lines.includes('release phase of v1'), lines.join('\n'));
    // The release service reports its phases; "Released vN" is the pipeline's own 'released' event now.
    assert.equal(rel.version, 1);
    const [b] = fx.runtime.listWebBackends(app);
    assert.equal((await httpGet(b.url, 3000)).body, 'lifecycle-built v1 web.1\n');
    assert.equal(
      (JSON.parse((await httpGet(b.url + '/env', 3000)).body) as Record<string, string>).GREETING,
      'hi from config',
    );

    await fx.runtime.scale(app, { worker: 1 });
    await waitFor(
      'worker output',
      () => fx.logs.some((l) => l.app === app && l.dyno === 'worker.1' && l.line === 'tick worker.1'),
      { timeoutMs: 10_000 },
    );

    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (d: Buffer) => (text += d));
    const r = await fx.runtime.runOneOff({
      appName: app,
      command: 'echo "$DYNO $GREETING"; pwd; exit 4',
      stdout,
      stderr: stdout,
    });
    assert.equal(r.exitCode, 4);
    assert.match(text, /^run\.\d{4} hi from config\n\/app\n$/);

    await fx.runtime.destroyApp(app);
    assert.deepEqual(await fx.docker.listContainers({ all: true, filters: { label: [`io.slipway.app=${app}`] } }), []);
    // The exported image has no app label: it is found by its repository name (…/apps/APP).
    assert.deepEqual(await fx.docker.listImages({ filters: { reference: [`slipway-test-registry/apps/${app}`] } }), []);
  },
);
