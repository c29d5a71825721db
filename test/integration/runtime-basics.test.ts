import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { httpGet } from '../../server/runtime/healthchecks';
import { createRuntimeFixture, waitFor, type RuntimeFixture } from './runtime-fixture';

let fx: RuntimeFixture;
before(async () => {
  fx = await createRuntimeFixture('rt-basics');
  await fx.runtime.start();
});
after(async () => {
  await fx?.cleanup();
});

const get = async (fx: RuntimeFixture, app: string, p = '/') => {
  const [b] = fx.runtime.listWebBackends(app);
  assert.ok(b, `${app} has a web backend`);
  return (await httpGet(b.url + p, 3000)).body;
};

test('a deploy runs web.1 with the platform env, serves HTTP on 127.0.0.1 and applies the size limits', async () => {
  const app = fx.createApp();
  fx.state.configVars.update(fx.state.apps.require(app).id, { FOO: 'bar' });
  const rel = await fx.deploy(app, { code: 'first' });
  assert.equal(rel.version, 1);
  assert.equal(rel.status, 'succeeded');
  const dynos = await fx.runtime.listDynos(app);
  assert.deepEqual(
    dynos.map((d) => [d.name, d.state, d.release]),
    [['web.1', 'up', 1]],
  );
  assert.match(dynos[0].address!, /^127\.0\.0\.1:\d+$/);
  assert.equal(await get(fx, app), 'first v1 web.1\n');
  const env = JSON.parse(await get(fx, app, '/env')) as Record<string, string>;
  assert.equal(env.FOO, 'bar');
  assert.equal(env.PORT, '5000');
  assert.equal(env.DYNO, 'web.1');
  assert.equal(env.SLIPWAY_APP, app);

  const info = await fx.docker.getContainer(dynos[0].containerId).inspect();
  assert.equal(info.HostConfig.Memory, 512 * 1024 * 1024);
  assert.equal(info.HostConfig.MemorySwap, 512 * 1024 * 1024);
  assert.equal(info.HostConfig.NanoCpus, 1e9);
  assert.equal(info.HostConfig.PidsLimit, 256);
  assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
  assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
  assert.equal(info.HostConfig.Init, true);
  assert.equal(info.Config.User, '1000:1000');
  assert.equal(info.HostConfig.LogConfig?.Type, 'json-file');
  assert.equal(info.HostConfig.LogConfig?.Config['max-size'], '10m');
  assert.equal(info.HostConfig.PortBindings['5000/tcp'][0].HostIp, '127.0.0.1');
  for (const k of [
    'io.slipway.managed',
    'io.slipway.home',
    'io.slipway.app',
    'io.slipway.process',
    'io.slipway.release',
    'io.slipway.dyno',
  ]) {
    assert.ok(info.Config.Labels[k], `label ${k}`);
  }
  // The dyno's output reaches the logs as web.1.
  await waitFor(
    'web.1 log line',
    () =>
      fx.logs.some(
        (l) => l.app === app && l.dyno === 'web.1' && l.source === 'app' && /listening on 5000/.test(l.line),
      ),
    { timeoutMs: 5000 },
  );

  // ps:type: a new size restarts the type with the new limits.
  await fx.runtime.setSize(app, 'web', 'eco');
  const [eco] = await fx.runtime.listDynos(app);
  assert.notEqual(eco.containerId, dynos[0].containerId);
  const ecoInfo = await fx.docker.getContainer(eco.containerId).inspect();
  assert.equal(ecoInfo.HostConfig.Memory, 256 * 1024 * 1024);
  assert.equal(ecoInfo.HostConfig.NanoCpus, 0.25e9);
  assert.equal(ecoInfo.HostConfig.PidsLimit, 128);
});

test('ps:scale converges up and down; =0 stops the type; an unknown type is refused', async () => {
  const app = fx.createApp();
  await fx.deploy(app, {
    processes: { web: 'exec node server.js', worker: 'while true; do echo working; sleep 1; done' },
  });
  // Heroku's defaults: web=1 on the first deploy, other types 0.
  assert.deepEqual(
    (await fx.runtime.listDynos(app)).map((d) => d.name),
    ['web.1'],
  );

  await fx.runtime.scale(app, { web: 3, worker: 1 });
  const up = await fx.runtime.listDynos(app);
  assert.deepEqual(
    up.map((d) => `${d.name}:${d.state}`),
    ['web.1:up', 'web.2:up', 'web.3:up', 'worker.1:up'],
  );
  assert.equal(fx.runtime.listWebBackends(app).length, 3);
  const bodies = new Set<string>();
  for (const b of fx.runtime.listWebBackends(app)) bodies.add((await httpGet(b.url, 3000)).body.trim());
  assert.deepEqual([...bodies].sort(), ['code-1 v1 web.1', 'code-1 v1 web.2', 'code-1 v1 web.3']);
  await waitFor(
    'worker output',
    () => fx.logs.some((l) => l.app === app && l.dyno === 'worker.1' && l.line === 'working'),
    { timeoutMs: 5000 },
  );

  await fx.runtime.scale(app, { web: 1, worker: 0 });
  assert.deepEqual(
    (await fx.runtime.listDynos(app)).map((d) => d.name),
    ['web.1'],
  );
  assert.equal(fx.runtime.listWebBackends(app).length, 1);
  // The scaled-away containers are drained and removed.
  await waitFor(
    'drained containers removed',
    async () =>
      (await fx.docker.listContainers({ all: true, filters: { label: [`io.slipway.app=${app}`] } })).length === 1,
    { timeoutMs: 10_000 },
  );

  await assert.rejects(fx.runtime.scale(app, { clock: 1 }), /no process type "clock"/);
  await assert.rejects(fx.runtime.scale(app, { web: 101 }), /not a quantity/);
});

test('a config change makes a new release with the same image, visible in the dyno env', async () => {
  const app = fx.createApp();
  const v1 = await fx.deploy(app);
  const appId = fx.state.apps.require(app).id;
  fx.state.configVars.update(appId, { GREETING: 'hello' });
  const v2 = await fx.releases.configChanged(app, fx.user, 'Set GREETING');
  assert.ok(v2);
  assert.equal(v2.version, 2);
  assert.equal(v2.imageDigest, v1.imageDigest);
  const env = JSON.parse(await get(fx, app, '/env')) as Record<string, string>;
  assert.equal(env.GREETING, 'hello');
  assert.equal(env.SLIPWAY_RELEASE, 'v2');
  assert.equal((await fx.runtime.listDynos(app))[0].release, 2);
  // No build yet → no release.
  const empty = fx.createApp();
  assert.equal(await fx.releases.configChanged(empty, fx.user), undefined);
});

test('rollback serves the old code and config as a new release', async () => {
  const app = fx.createApp();
  const appId = fx.state.apps.require(app).id;
  fx.state.configVars.update(appId, { MODE: 'one' });
  await fx.deploy(app, { code: 'old-code' });
  fx.state.configVars.update(appId, { MODE: 'two' });
  await fx.deploy(app, { code: 'new-code' });
  assert.match(await get(fx, app), /^new-code v2/);
  const v3 = await fx.releases.rollback(app, 1, fx.user);
  assert.equal(v3.version, 3);
  assert.equal(v3.description, 'Rollback to v1');
  assert.match(await get(fx, app), /^old-code v3 web\.1/);
  assert.equal((JSON.parse(await get(fx, app, '/env')) as Record<string, string>).MODE, 'one');
  assert.equal(fx.state.configVars.all(appId).MODE, 'one');
  assert.deepEqual(
    fx.releases.list(app).map((r) => [r.version, r.status]),
    [
      [3, 'succeeded'],
      [2, 'succeeded'],
      [1, 'succeeded'],
    ],
  );
  await assert.rejects(fx.releases.rollback(app, 9, fx.user), /has no release v9/);
});

test('one-off runs: exit code passes through, stdin reaches the command, a TTY is allocated on request, the container is removed', async () => {
  const { PassThrough } = await import('node:stream');
  const app = fx.createApp();
  fx.state.configVars.update(fx.state.apps.require(app).id, { SECRET_WORD: 'swordfish' });
  await fx.deploy(app);
  const collect = () => {
    const s = new PassThrough();
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    return { s, text: () => Buffer.concat(chunks).toString() };
  };
  const out = collect();
  const err = collect();
  const r = await fx.runtime.runOneOff({
    appName: app,
    command: 'echo "word=$SECRET_WORD dyno=$DYNO"; echo oops >&2; exit 7',
    stdout: out.s,
    stderr: err.s,
  });
  assert.equal(r.exitCode, 7);
  assert.match(out.text(), /^word=swordfish dyno=run\.\d{4}\n$/);
  assert.equal(err.text(), 'oops\n');

  const stdin = new PassThrough();
  const out2 = collect();
  const p = fx.runtime.runOneOff({ appName: app, command: 'tr a-z A-Z', stdin, stdout: out2.s, stderr: out2.s });
  stdin.end('shout\n');
  assert.equal((await p).exitCode, 0);
  assert.equal(out2.text(), 'SHOUT\n');

  const out3 = collect();
  const t = await fx.runtime.runOneOff({
    appName: app,
    command: 'if [ -t 1 ]; then tty; else echo no-tty; fi',
    tty: true,
    stdout: out3.s,
    stderr: out3.s,
  });
  assert.equal(t.exitCode, 0);
  assert.match(out3.text(), /^\/dev\/pts\/\d+\r?\n$/);
  const out4 = collect();
  await fx.runtime.runOneOff({
    appName: app,
    command: 'if [ -t 1 ]; then tty; else echo no-tty; fi',
    stdout: out4.s,
    stderr: out4.s,
  });
  assert.equal(out4.text(), 'no-tty\n');

  const d = await fx.runtime.runDetached({ appName: app, command: 'echo detached-output; sleep 1; exit 3' });
  assert.match(d.dyno, /^run\.\d{4}$/);
  // ps shows the one-off while it runs.
  const running = (await fx.runtime.listDynos(app)).find((x) => x.name === d.dyno);
  assert.equal(running?.type, 'run');
  assert.equal(running?.command, 'echo detached-output; sleep 1; exit 3');
  await waitFor(
    'detached exit',
    () => fx.logs.some((l) => l.app === app && l.dyno === d.dyno && l.line === 'Process exited with status 3'),
    { timeoutMs: 10_000 },
  );
  assert.ok(fx.logs.some((l) => l.app === app && l.dyno === d.dyno && l.line === 'detached-output'));
  await waitFor(
    'one-offs removed',
    async () =>
      (
        await fx.docker.listContainers({
          all: true,
          filters: { label: [`io.slipway.app=${app}`, 'io.slipway.oneoff=true'] },
        })
      ).length === 0,
    { timeoutMs: 5000 },
  );
  assert.deepEqual(
    (await fx.runtime.listDynos(app)).map((x) => x.name),
    ['web.1'],
  );
});

test('ps:restart replaces a dyno or a type without leaving the routes empty; web=0 empties them', async () => {
  const app = fx.createApp();
  await fx.deploy(app);
  await fx.runtime.scale(app, { web: 2 });
  const before = await fx.runtime.listDynos(app);
  let emptied = false;
  const watch = () => {
    if (fx.runtime.listWebBackends(app).length === 0) emptied = true;
  };
  fx.onPublish.push(watch);
  try {
    await fx.runtime.restart(app, 'web.2');
    const one = await fx.runtime.listDynos(app);
    assert.equal(one[0].containerId, before[0].containerId);
    assert.notEqual(one[1].containerId, before[1].containerId);
    await fx.runtime.restart(app, 'web');
    const all = await fx.runtime.listDynos(app);
    assert.ok(all.every((d, i) => d.containerId !== one[i].containerId && d.state === 'up'));
    assert.equal(emptied, false, 'routes never empty during restarts');
    await assert.rejects(fx.runtime.restart(app, 'web;rm'), /neither a process type nor a dyno/);
  } finally {
    fx.onPublish.splice(fx.onPublish.indexOf(watch), 1);
  }
  await fx.runtime.scale(app, { web: 0 });
  assert.deepEqual(fx.runtime.listWebBackends(app), []);
  assert.deepEqual(await fx.runtime.listDynos(app), []);
});
