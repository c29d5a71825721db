import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { defaultLimits } from '../../common/limits';
import { oneOffLimits } from '../../server/auth/limits';
import { createReleaseService } from '../../server/releases';
import { createRuntimeFixture, waitFor, type RuntimeFixture } from '../integration/runtime-fixture';

/**
 * Limits enforced by the runtime and the release service. The one-offs and one-off-seconds limits on real Docker containers (the runtime the API calls for
 * `slipway run` and `run:detached`, with the limits the API computes from the app owner's row).
 * The CLI-level refusal message is covered in limits.test.ts; running one-offs need a release,
 * which this fixture makes without a build.
 */
let fx: RuntimeFixture;
before(async () => {
  fx = await createRuntimeFixture('sec-oneoff');
  await fx.runtime.start();
});
after(async () => {
  await fx?.cleanup();
});

test('one-offs beyond the owner limit are refused, and one that outlives one-off-seconds is stopped with the limit named', async () => {
  const app = fx.createApp();
  await fx.deploy(app);
  const row = fx.state.apps.require(app);
  fx.state.limits.set(row.ownerId, { 'one-offs': 1, 'one-off-seconds': 2 });
  const limits = () => oneOffLimits(fx.state, { limits: defaultLimits(2) }, row);
  const owner = fx.state.users.emailOf(row.ownerId)!;
  // A second app of the same owner, deployed first (the one-off below lives 2 s).
  const other = fx.createApp();
  const otherRow = fx.state.apps.require(other);
  assert.equal(otherRow.ownerId, row.ownerId);
  await fx.deploy(other);

  const d = await fx.runtime.runDetached({ appName: app, command: 'echo started; sleep 60', limits: limits() });
  await assert.rejects(fx.runtime.runDetached({ appName: app, command: 'true', limits: limits() }), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(
        `one-offs limit reached: user ${owner.replace(/\./g, '\\.')} \\(owner of ${app}\\) has 1 of 1 one-offs`,
      ),
    );
    return true;
  });
  // The limit is the owner's across all their apps: a second app of theirs gets no extra one-off.
  await assert.rejects(
    fx.runtime.runDetached({
      appName: other,
      command: 'true',
      limits: oneOffLimits(fx.state, { limits: defaultLimits(2) }, otherRow),
    }),
    /one-offs limit reached: .* has 1 of 1 one-offs/,
  );
  await waitFor(
    'the detached one-off stopped',
    () =>
      fx.logs.some(
        (l) =>
          l.app === app &&
          l.dyno === d.dyno &&
          /^Stopped: one-off-seconds limit reached: .* is limited to 2 seconds; an admin can raise it with: slipway limits:set .* one-off-seconds=4$/.test(
            l.line,
          ),
      ),
    { timeoutMs: 15_000 },
  );
  await waitFor('the one-off gone', async () => !(await fx.runtime.listDynos(app)).some((x) => x.name === d.dyno), {
    timeoutMs: 15_000,
  });

  // Attached: the client sees why its command ended.
  let err = '';
  const sink = new Writable({ write: (c: Buffer, _e, cb) => ((err += c.toString()), cb()) });
  const started = Date.now();
  const r = await fx.runtime.runOneOff({
    appName: app,
    command: 'sleep 60',
    stdout: sink,
    stderr: sink,
    limits: limits(),
  });
  assert.notEqual(r.exitCode, 0);
  assert.ok(Date.now() - started < 30_000, 'stopped long before the command would have ended');
  assert.match(err, /one-off-seconds limit reached/);
});

test("an app.json formation cannot seed more dynos than the owner's limits: the deploy is refused, naming the limit", async () => {
  const app = fx.createApp();
  const row = fx.state.apps.require(app);
  fx.state.limits.set(row.ownerId, { 'dynos-per-type': 2, dynos: 3 });
  // The release service as server/main.ts wires it: with the platform default limits.
  const releases = createReleaseService({
    state: fx.state,
    runtime: fx.runtime,
    logs: { write: () => undefined },
    limits: defaultLimits(2),
  });
  const img = await fx.buildImage(app, { processes: { web: 'node server.js', worker: 'sleep infinity' } });
  await assert.rejects(
    releases.createFromBuild({ appName: app, ...img, appJson: { formation: { web: { quantity: 5 } } }, user: fx.user }),
    /dynos-per-type limit reached: user .* \(owner of .*\) may run 2 dynos per process type, and web@5 asks for 5/,
  );
  await assert.rejects(
    releases.createFromBuild({
      appName: app,
      ...img,
      appJson: { formation: { web: { quantity: 2 }, worker: { quantity: 2 } } },
      user: fx.user,
    }),
    /dynos limit reached: .* may run 3 dynos per app, and this formation asks for 4/,
  );
  assert.deepEqual(fx.state.formation.list(row.id), []);
  assert.equal(fx.state.releases.list(row.id).length, 0);
});
