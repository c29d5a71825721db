import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isSlipwayError } from '../../common/errors';
import { httpGet } from '../../server/runtime/healthchecks';
import { createRuntimeFixture, waitFor, type RuntimeFixture } from './runtime-fixture';

let fx: RuntimeFixture;
before(async () => {
  fx = await createRuntimeFixture('rt-fail', { bootTimeoutMs: 6000, releaseTimeoutMs: 3000 });
  await fx.runtime.start();
});
after(async () => {
  await fx?.cleanup();
});

const body = async (app: string) => (await httpGet(fx.runtime.listWebBackends(app)[0].url, 3000)).body;

test('a failing health check keeps the old release serving and reports the check and the new container’s last log lines', async () => {
  const app = fx.createApp();
  await fx.deploy(app, { code: 'good' });
  const before = await fx.runtime.listDynos(app);

  // The new code never listens: it prints a clue and idles.
  const err = await fx
    .deploy(app, { processes: { web: 'echo "cannot connect to database db.internal"; sleep 600' } })
    .then(
      () => assert.fail('the deploy should fail'),
      (e: unknown) => e,
    );
  assert.ok(isSlipwayError(err));
  assert.equal(err.code, 'DEPLOY_FAILED');
  // Said by cause (issue 14): running, but nothing listens.
  assert.match(
    err.message,
    /v2 was not deployed: web\.1 is running but listens on no port after 6 s\. The previous release keeps serving\./,
  );
  assert.match(err.message, /cannot connect to database db\.internal/);
  assert.deepEqual((err.details as { logs: string[] }).logs, ['cannot connect to database db.internal']);

  // v1 still serves from the same container; v2 is recorded as failed.
  assert.match(await body(app), /^good v1 web\.1/);
  assert.deepEqual(
    (await fx.runtime.listDynos(app)).map((d) => d.containerId),
    before.map((d) => d.containerId),
  );
  assert.deepEqual(
    fx.releases.list(app).map((r) => [r.version, r.status]),
    [
      [2, 'failed'],
      [1, 'succeeded'],
    ],
  );
  assert.equal(fx.state.apps.require(app).currentReleaseId, fx.releases.get(app, 1).id);
  // The failed release's container is gone.
  const containers = await fx.docker.listContainers({ all: true, filters: { label: [`io.slipway.app=${app}`] } });
  assert.deepEqual(
    containers.map((c) => c.Id),
    before.map((d) => d.containerId),
  );
});

test('app.json healthchecks (Dokku schema): content mismatch fails the deploy with the check named', async () => {
  const app = fx.createApp();
  await fx.deploy(app, { code: 'v1code' });
  fx.state.configVars.update(fx.state.apps.require(app).id, { HEALTH_BODY: 'degraded' });
  const appJson = {
    healthchecks: {
      web: [
        { type: 'startup', name: 'health page', path: '/health', content: 'ok', attempts: 2, wait: 0.2, timeout: 1 },
      ],
    },
  };
  await assert.rejects(fx.deploy(app, { code: 'v2code', appJson }), (e: Error) => {
    assert.match(
      e.message,
      /failed the health check \(health page\): GET \/health did not contain "ok" \(after 2 attempts\)/,
    );
    return true;
  });
  assert.match(await body(app), /^v1code v1/);
  fx.state.configVars.update(fx.state.apps.require(app).id, { HEALTH_BODY: 'all ok' });
  const v3 = await fx.deploy(app, { code: 'v3code', appJson });
  assert.equal(v3.status, 'succeeded');
  assert.match(await body(app), /^v3code v3/);
});

test('a release-phase failure aborts the deploy before any dyno changes', async () => {
  const app = fx.createApp();
  await fx.deploy(app, { code: 'stable' });
  const lines: string[] = [];
  const img = await fx.buildImage(app, { code: 'never' });
  await assert.rejects(
    fx.releases.createFromBuild({
      appName: app,
      ...img,
      releaseCommand: 'echo "migrating"; echo "migration 42 failed" >&2; exit 5',
      user: fx.user,
      output: (l) => lines.push(l),
    }),
    (e: Error) => {
      assert.ok(isSlipwayError(e));
      assert.equal(e.code, 'DEPLOY_FAILED');
      assert.match(e.message, /release command of v2 .* exited with status 5/);
      return true;
    },
  );
  assert.ok(lines.includes('migrating'));
  assert.ok(lines.includes('migration 42 failed'));
  assert.match(await body(app), /^stable v1/);
  assert.equal(fx.releases.get(app, 2).status, 'failed');

  // A release command that hangs is stopped at the time limit.
  await assert.rejects(
    fx.deploy(app, { releaseCommand: 'echo "waiting for a lock"; sleep 60' }),
    /release command of v3 .* ran longer than 3 s and was stopped/,
  );
  assert.match(await body(app), /^stable v1/);

  // A passing release command runs with the release's config, then the deploy goes ahead.
  const ok = await fx.deploy(app, {
    code: 'migrated',
    releaseCommand: 'echo "release phase on $DYNO for $SLIPWAY_RELEASE"',
  });
  assert.equal(ok.version, 4);
  assert.match(await body(app), /^migrated v4/);
  assert.ok(
    fx.logs.some((l) => l.app === app && l.dyno === 'release.1' && l.line === 'release phase on release.1 for v4'),
  );
});

test('a crash loop restarts with exponential back-off, visible in ps and in the logs', async () => {
  const app = fx.createApp();
  // The worker dies right away, every time.
  await fx.deploy(app, { processes: { web: 'exec node server.js', worker: 'echo "worker booting"; exit 3' } });
  await fx.runtime.scale(app, { worker: 1 });
  const crashed = await waitFor(
    'three crashes',
    async () => {
      const w = (await fx.runtime.listDynos(app)).find((d) => d.name === 'worker.1');
      return w && w.state === 'crashed' && w.restarts >= 3 ? w : undefined;
    },
    { timeoutMs: 15_000 },
  );
  assert.equal(crashed.exitCode, 3);
  assert.ok(crashed.nextRestartAt, 'next restart time shown');
  const delays = fx.logs
    .filter(
      (l) => l.app === app && l.dyno === 'worker.1' && l.source === 'platform' && l.line.startsWith('Restarting in'),
    )
    .map((l) => l.line);
  // Base 0.5 s in this test: 0.5, 1, 2 (doubling, capped at 4).
  assert.deepEqual(
    delays.slice(0, 3).map((l) => l.split(' (')[0]),
    ['Restarting in 0.5 s', 'Restarting in 1 s', 'Restarting in 2 s'],
  );
  assert.ok(fx.logs.some((l) => l.app === app && l.dyno === 'worker.1' && l.line === 'Process exited with status 3'));
  assert.ok(
    fx.logs.some((l) => l.app === app && l.dyno === 'worker.1' && l.line === 'State changed from up to crashed'),
  );
  assert.ok(
    fx.logs.some(
      (l) => l.app === app && l.dyno === 'worker.1' && l.line === 'State changed from crashed to restarting',
    ),
  );
  // Each run's output once: following a restarted container starts at its new start, no replays.
  const boots = fx.logs.filter(
    (l) => l.app === app && l.dyno === 'worker.1' && l.source === 'app' && l.line === 'worker booting',
  ).length;
  const runs = fx.logs.filter(
    (l) => l.app === app && l.dyno === 'worker.1' && l.line === 'Process exited with status 3',
  ).length;
  assert.ok(boots >= 1 && boots <= runs + 1, `${boots} "worker booting" lines for ${runs} runs`);
  // Same container restarted, not replaced; web untouched.
  const workers = (await fx.runtime.listDynos(app)).filter((d) => d.type === 'worker');
  assert.deepEqual(
    workers.map((d) => d.containerId),
    [crashed.containerId],
  );
  assert.equal((await fx.runtime.listDynos(app)).find((d) => d.name === 'web.1')?.state, 'up');
  // A crashing web dyno leaves the routes at once.
  const web = (await fx.runtime.listDynos(app)).find((d) => d.name === 'web.1')!;
  await fx.docker.getContainer(web.containerId).kill({ signal: 'SIGKILL' });
  await waitFor('web.1 out of the routes', () => fx.runtime.listWebBackends(app).length === 0, { timeoutMs: 3000 });
  await waitFor('web.1 back after its restart', () => fx.runtime.listWebBackends(app).length === 1, {
    timeoutMs: 10_000,
  });
  assert.match(await body(app), /^code-1 v1 web\.1/);
});
