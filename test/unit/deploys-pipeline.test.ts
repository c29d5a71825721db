import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { homePaths, loadConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import { createBuildQueue } from '../../server/builds/queue';
import type { Builder } from '../../server/deploys/builders/types';
import { pushLines, type DeployEvent } from '../../server/deploys/events';
import { createDeployPipeline, type DeployInput } from '../../server/deploys/pipeline';
import { createReleaseService } from '../../server/releases';
import type { Runtime, StagedRollout } from '../../server/runtime';
import { openState } from '../../server/state';
import { tmpDir } from '../helpers/home';

/**
 * The deploy pipeline with a stand-in builder and runtime: the real queue, release service and
 * SQLite state, so each case checks what a push reports and what it leaves recorded.
 */
type Stage = Runtime['stage'];

function setup(builder: Builder, stage: Stage) {
  const dir = tmpDir('slipway-pipeline-');
  const paths = homePaths(dir);
  fs.mkdirSync(paths.builds, { recursive: true });
  const state = openState({ dbFile: path.join(dir, 'state.db'), keyFile: path.join(dir, 'secret.key') });
  const user = state.users.create('ana@example.com', true);
  const app = state.apps.create({ name: 'pipe-app', ownerId: user.id, stack: 'bookworm' });
  const appLog: string[] = [];
  const logs = { write: (_app: string, e: { line: string }) => void appLog.push(e.line) };
  const releases = createReleaseService({ state, runtime: { stage }, logs });
  const pipeline = createDeployPipeline({
    state,
    paths,
    config: { domain: 'localhost', httpPort: 8080, buildTimeoutMs: 60_000, home: dir, limits: loadConfig({}).limits },
    store: { resolve: async () => undefined },
    docker: { listContainers: async () => [] } as never,
    queue: createBuildQueue({ concurrency: 1, maxWaitMs: 60_000 }),
    builders: [builder],
    releases,
    logs,
    stacks: { ensure: async () => undefined },
  });
  const events: DeployEvent[] = [];
  const push = (over: Partial<DeployInput> = {}) =>
    pipeline.deploy({
      appName: app.name,
      user: { id: user.id, email: user.email },
      sourceVersion: 'a'.repeat(40),
      source: sourceTar({ 'app.json': '{"formation":{"web":{"quantity":1}}}', Procfile: 'web: run' }),
      onEvent: (e) => events.push(e),
      ...over,
    });
  const output = () => events.flatMap(pushLines).join('\n');
  return {
    state,
    app,
    pipeline,
    events,
    appLog,
    push,
    output,
    cleanup() {
      state.db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function sourceTar(files: Record<string, string>): Readable {
  const p = pack();
  for (const [name, body] of Object.entries(files)) p.entry({ name, mode: 0o644 }, body);
  p.finalize();
  return p as unknown as Readable;
}

const image = {
  imageRef: 'apps/pipe-app:x',
  imageDigest: `sha256:${'1'.repeat(64)}`,
  processTypes: { web: 'run' },
  metadata: { buildpacks: [{ id: 'test/bp', version: '1' }], phaseTimings: { export: 3 } },
};
const builder = (build: Builder['build']): Builder => ({ name: 'stand-in', build });
const okBuilder = builder(async (source, ctx) => {
  assert.equal(fs.readFileSync(path.join(source.dir, 'Procfile'), 'utf8'), 'web: run');
  ctx.output('building with the stand-in');
  ctx.progress({ step: 'export', ms: 3 });
  return { ...image, imageRef: ctx.imageRef };
});

/** A runtime that stages at once; `swaps` records what was swapped in, `abandons` what was dropped. */
function standInRuntime(fail?: { at: 'release' | 'health'; message: string }) {
  const swaps: number[] = [];
  const abandons: number[] = [];
  const stage: Stage = async ({ release, output }) => {
    output?.('Running release command: migrate');
    if (fail?.at === 'release')
      throw new SlipwayError('DEPLOY_FAILED', fail.message, { hint: 'fix the release command' });
    output?.(`Starting 1 web dyno of v${release.version} and checking health`);
    // A wait, as the runtime reports it every 5 s (supervisor.ts checkWeb).
    output?.wait?.({ dyno: 'web.1', waitingFor: 'answer', elapsedS: 5, limitS: 60 });
    if (fail?.at === 'health')
      throw new SlipwayError('DEPLOY_FAILED', fail.message, { hint: 'check the app listens on $PORT' });
    const staged: StagedRollout = {
      swap: async () => void swaps.push(release.version),
      abandon: async () => void abandons.push(release.version),
    };
    return staged;
  };
  return { stage, swaps, abandons };
}

test('a push goes source → queue → builder → release → rollout → routes and reports each step as an event', async () => {
  const rt = standInRuntime();
  const t = setup(okBuilder, rt.stage);
  try {
    const outcome = await t.push();
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.releaseVersion, 1);
    assert.deepEqual(
      t.events.map((e) => e.type),
      [
        'started',
        'building',
        'build-output',
        'step',
        'launching',
        'release-output',
        'release-output',
        'wait',
        'released',
        'timing',
        'deployed',
        'succeeded',
      ],
    );
    const timing = t.events.find((e) => e.type === 'timing') as { timings: Record<string, number> };
    assert.deepEqual(Object.keys(timing.timings), ['queue', 'source', 'build', 'total']);
    assert.deepEqual(
      t.events.find((e) => e.type === 'wait'),
      { type: 'wait', dyno: 'web.1', waitingFor: 'answer', elapsedS: 5, limitS: 60 },
    );
    assert.match(t.output(), / {7}waiting for web\.1 to answer on \$PORT \(5 s of 60\)\n {7}Released v1/);
    assert.deepEqual(
      t.events.find((e) => e.type === 'step'),
      { type: 'step', step: 'export', ms: 3 },
    );
    assert.match(
      t.output(),
      /^-----> Building on the bookworm stack\nbuilding with the stand-in\n-----> Launching\.\.\.\n {7}Running release command: migrate\n/,
    );
    assert.match(
      t.output(),
      / {7}Released v1\n {7}Push timing: queue \d+ ms, source \d+ ms, build \d+ ms, total \d+ ms\n {7}http:\/\/pipe-app\.localhost:8080\/ deployed to Slipway$/,
    );
    assert.deepEqual(rt.swaps, [1]);
    const b = t.state.builds.get(outcome.build.id)!;
    assert.equal(b.status, 'succeeded');
    assert.equal(b.releaseVersion, 1);
    assert.deepEqual(b.phaseTimings, { export: 3 });
    const app = t.state.apps.require('pipe-app');
    assert.equal(t.state.releases.getById(app.currentReleaseId!)!.version, 1);
    assert.deepEqual(t.state.releases.getById(app.currentReleaseId!)!.appJson, { formation: { web: { quantity: 1 } } });
    // The API's view: the same events, recorded with their times.
    const recorded = t.pipeline.events(b.id);
    assert.deepEqual(
      recorded.map((e) => e.type),
      t.events.map((e) => e.type),
    );
    assert.ok(recorded.every((e) => !Number.isNaN(Date.parse(e.at))));
    // The build log has what the client saw; the app log has the milestones.
    assert.equal(fs.readFileSync(b.logPath!, 'utf8'), `${t.output()}\n`);
    assert.match(
      t.appLog.join('\n'),
      new RegExp(`Build ${b.id} of aaaaaaa started by ana@example.com[\\s\\S]*Build of aaaaaaa succeeded, released v1`),
    );
  } finally {
    t.cleanup();
  }
});

test('a build failure is reported with its hint, recorded as failed, and makes no release', async () => {
  const rt = standInRuntime();
  const t = setup(
    builder(async () => {
      throw new SlipwayError('BUILD_FAILED', 'npm install failed', { hint: 'fix package.json' });
    }),
    rt.stage,
  );
  try {
    const outcome = await t.push();
    assert.equal(outcome.error?.message, 'npm install failed');
    assert.match(t.output(), / ! {5}npm install failed\n ! {5}fix package\.json\n ! {5}Push rejected to pipe-app\.$/);
    assert.equal(t.state.builds.get(outcome.build.id)!.status, 'failed');
    assert.deepEqual(t.state.releases.list(t.app.id), []);
    assert.deepEqual(rt.swaps, []);
  } finally {
    t.cleanup();
  }
});

for (const at of ['release', 'health'] as const) {
  test(`a ${at === 'release' ? 'release-phase' : 'health-check'} failure marks the release failed and the previous one keeps serving`, async () => {
    let fail: { at: 'release' | 'health'; message: string } | undefined;
    const rt = standInRuntime();
    const failing = standInRuntime({ at, message: `${at} went wrong` });
    const t = setup(okBuilder, (input) => (fail ? failing.stage(input) : rt.stage(input)));
    try {
      assert.equal((await t.push()).releaseVersion, 1);
      fail = { at, message: `${at} went wrong` };
      const outcome = await t.push({ source: sourceTar({ Procfile: 'web: run' }) });
      assert.equal(outcome.error?.message, `${at} went wrong`);
      assert.match(t.output(), new RegExp(` ! {5}${at} went wrong\\n[\\s\\S]* ! {5}Push rejected to pipe-app\\.$`));
      const [v2, v1] = t.state.releases.list(t.app.id);
      assert.deepEqual([v2.version, v2.status, v1.version, v1.status], [2, 'failed', 1, 'succeeded']);
      assert.equal(t.state.apps.require('pipe-app').currentReleaseId, v1.id);
      assert.equal(t.state.builds.get(outcome.build.id)!.status, 'failed');
    } finally {
      t.cleanup();
    }
  });
}

test('cancel stops a running build through its signal; the build is recorded as cancelled', async () => {
  const rt = standInRuntime();
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const t = setup(
    builder((_source, ctx) => {
      started();
      return new Promise((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => reject(new Error('container removed'))),
      );
    }),
    rt.stage,
  );
  try {
    const pushed = t.push();
    await running;
    const id = t.pipeline.activeBuilds()[0];
    assert.equal(t.pipeline.cancel(id, 'bob@example.com'), true);
    const outcome = await pushed;
    assert.equal(outcome.error?.message, 'build cancelled by bob@example.com');
    assert.match(t.output(), / ! {5}build cancelled by bob@example\.com\n ! {5}Push cancelled\.$/);
    assert.equal(t.state.builds.get(id)!.status, 'cancelled');
    assert.equal(t.pipeline.cancel(id), false, 'a finished build cannot be cancelled');
    assert.deepEqual(t.state.releases.list(t.app.id), []);
  } finally {
    t.cleanup();
  }
});

test('a client that goes away while the build waits cancels it before the builder runs', async () => {
  const rt = standInRuntime();
  let built = false;
  const t = setup(
    builder(async () => ((built = true), image)),
    rt.stage,
  );
  try {
    const gone = new AbortController();
    gone.abort();
    const outcome = await t.push({ signal: gone.signal });
    assert.match(outcome.error?.message ?? '', /pushing client disconnected/);
    assert.equal(built, false);
    assert.equal(t.state.builds.get(outcome.build.id)!.status, 'cancelled');
  } finally {
    t.cleanup();
  }
});
