import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { httpGet } from '../../server/runtime/healthchecks';
import { createRuntimeFixture, sleep, waitFor, type RuntimeFixture } from './runtime-fixture';

let fx: RuntimeFixture;
before(async () => {
  fx = await createRuntimeFixture('rt-life', { keepReleases: 3, buildCacheCapMb: 1 }, true);
  await fx.runtime.start();
});
after(async () => {
  await fx?.cleanup();
});

test('after a server restart the running dynos are adopted, not restarted, and no request is dropped', async () => {
  const app = fx.createApp();
  await fx.deploy(app);
  await fx.runtime.scale(app, { web: 2 });
  const before = await fx.runtime.listDynos(app);
  const urls = fx.runtime.listWebBackends(app).map((b) => b.url);
  const started = await Promise.all(
    before.map(async (d) => (await fx.docker.getContainer(d.containerId).inspect()).State.StartedAt),
  );

  // Traffic against the published backends (the router keeps serving them meanwhile).
  let ok = 0;
  const failures: string[] = [];
  let running = true;
  const load = (async () => {
    for (let i = 0; running; i++) {
      await httpGet(urls[i % urls.length], 2000).then(
        (r) => (r.status === 200 ? ok++ : failures.push(`status ${r.status}`)),
        (e: Error) => failures.push(e.message),
      );
      await sleep(10);
    }
  })();

  await fx.runtime.stop();
  await sleep(300);
  const second = fx.newRuntime();
  await second.start();
  await sleep(300);
  running = false;
  await load;

  const after = await second.listDynos(app);
  assert.deepEqual(
    after.map((d) => [d.name, d.state, d.containerId]),
    before.map((d) => [d.name, 'up', d.containerId]),
  );
  assert.deepEqual(
    second.listWebBackends(app).map((b) => b.url),
    urls,
  );
  const startedAfter = await Promise.all(
    after.map(async (d) => (await fx.docker.getContainer(d.containerId).inspect()).State.StartedAt),
  );
  assert.deepEqual(startedAfter, started, 'containers were not restarted');
  assert.deepEqual(failures, []);
  assert.ok(ok > 5, `${ok} requests served`);

  // The new instance supervises them: a crash is noticed and restarted.
  await fx.docker.getContainer(after[1].containerId).kill({ signal: 'SIGKILL' });
  await waitFor(
    'crash noticed',
    async () => (await second.listDynos(app)).find((d) => d.name === 'web.2')?.restarts === 1,
    { timeoutMs: 5000 },
  );
  await waitFor('web.2 back', () => second.listWebBackends(app).length === 2, { timeoutMs: 10_000 });
  // Scaling through the new instance works on the adopted dynos.
  await second.scale(app, { web: 1 });
  assert.deepEqual(
    (await second.listDynos(app)).map((d) => d.containerId),
    [before[0].containerId],
  );
  fx.use(second); // later tests use the live instance
});

test('garbage collection keeps exactly the last N releases’ images (and what runs); rollback within them still works', async () => {
  const app = fx.createApp();
  for (let i = 1; i <= 5; i++) await fx.deploy(app, { code: `build-${i}` });
  const appImages = async () =>
    (await fx.docker.listImages({ filters: { label: [`io.slipway.app=${app}`] } })).map((i) => i.Id).sort();
  assert.equal((await appImages()).length, 5);

  // A build cache past the cap (1 MB here) is cleared; a small one is left alone.
  const other = fx.createApp();
  fs.mkdirSync(path.join(fx.home.caches, app), { recursive: true });
  fs.writeFileSync(path.join(fx.home.caches, app, 'big'), Buffer.alloc(2 * 1024 * 1024));
  fs.mkdirSync(path.join(fx.home.caches, other), { recursive: true });
  fs.writeFileSync(path.join(fx.home.caches, other, 'small'), 'x');

  const report = await fx.runtime.collectGarbage();
  assert.equal(report.apps[app].clearedCacheBytes, 2 * 1024 * 1024);
  assert.equal(fs.existsSync(path.join(fx.home.caches, app)), false);
  assert.equal(report.apps[other].clearedCacheBytes, 0);
  assert.equal(fs.existsSync(path.join(fx.home.caches, other, 'small')), true);
  assert.equal(report.apps[app].removedImages.length, 2);
  assert.equal(report.storeGc, 'done');
  const kept = await appImages();
  assert.equal(kept.length, 3);
  const expected = await Promise.all(
    [3, 4, 5].map(async (v) => (await fx.home.store.readManifest(fx.releases.get(app, v).imageDigest!)).config.digest),
  );
  assert.deepEqual(kept, expected.sort());
  assert.match((await httpGet(fx.runtime.listWebBackends(app)[0].url, 3000)).body, /^build-5 v5/);
  assert.equal(report.keepRefs.filter((r) => r.startsWith(`apps/${app}:`)).length, 3);
  // The store's blob GC got the same list: the two old builds' tags are gone, the kept three remain.
  const tags = (await fx.home.store.listTags())
    .map((t) => t.ref)
    .filter((r) => r.startsWith(`apps/${app}:`))
    .sort();
  assert.deepEqual(tags, [3, 4, 5].map((v) => fx.releases.get(app, v).imageRef).sort());
  // Stack images are never candidates.
  assert.ok((await fx.docker.listImages()).some((i) => (i.RepoTags ?? []).includes('slipway/bookworm-run:latest')));

  await fx.releases.rollback(app, 3, fx.user);
  assert.match((await httpGet(fx.runtime.listWebBackends(app)[0].url, 3000)).body, /^build-3 v6/);
  // A second pass removes nothing more: v3's image is current, v4 and v5 are within the last 3.
  assert.deepEqual((await fx.runtime.collectGarbage()).apps[app].removedImages, []);
});

test("the runtime's part of destroying an app leaves nothing labelled behind: dynos, one-offs, images, routes", async () => {
  const app = fx.createApp();
  await fx.deploy(app, { processes: { web: 'exec node server.js', worker: 'sleep 600' } });
  await fx.runtime.scale(app, { web: 2, worker: 1 });
  await fx.runtime.runDetached({ appName: app, command: 'sleep 600' });
  fs.mkdirSync(path.join(fx.home.caches, app, 'layers'), { recursive: true });
  fs.writeFileSync(path.join(fx.home.caches, app, 'layers', 'x'), 'cache');
  fs.mkdirSync(path.join(fx.home.repos, `${app}.git`), { recursive: true });
  const usage = await fx.runtime.diskUsage(app);
  assert.ok(usage.images > 100 * 1024 * 1024, `image bytes ${usage.images}`);
  assert.equal(usage.cache, 5);
  const publishes = fx.publishes;

  await fx.runtime.destroyApp(app);

  assert.deepEqual(await fx.docker.listContainers({ all: true, filters: { label: [`io.slipway.app=${app}`] } }), []);
  assert.deepEqual(await fx.docker.listImages({ filters: { label: [`io.slipway.app=${app}`] } }), []);
  // The build cache, repository and record are other parts' (server/apps/destroy.ts; cli-deploy tests the whole).
  assert.equal(fs.existsSync(path.join(fx.home.caches, app, 'layers', 'x')), true);
  assert.ok(fx.state.apps.get(app));
  assert.deepEqual(fx.runtime.listWebBackends(app), []);
  assert.deepEqual(await fx.runtime.listDynos(app), []);
  assert.ok(fx.publishes > publishes, 'routes republished');
});

test("the reconciler leaves the app's build containers alone (a build spans reconcile passes)", async () => {
  const app = fx.createApp();
  await fx.deploy(app);
  // A container labelled like the lifecycle's build container of this app (no io.slipway.process).
  const build = await fx.docker.createContainer({
    Image: 'slipway/bookworm-build:latest',
    Cmd: ['sleep', '60'],
    Labels: {
      'io.slipway.managed': 'true',
      'io.slipway.home': fx.home.home,
      'io.slipway.app': app,
      'io.slipway.role': 'build',
      'io.slipway.build': 'b-test',
    },
  });
  try {
    await build.start();
    await fx.runtime.reconcile(app);
    await fx.runtime.reconcile();
    assert.equal((await build.inspect()).State.Running, true, 'the build container survived reconciliation');
  } finally {
    await build.remove({ force: true }).catch(() => {});
  }
});
