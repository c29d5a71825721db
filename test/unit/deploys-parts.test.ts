import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { homePaths } from '../../common/config';
import { parseRoutesFile } from '../../common/routes-file';
import { SlipwayError } from '../../common/errors';
import type { DeployInput, DeployOutcome } from '../../server/deploys/pipeline';
import { createPushLocks } from '../../server/git/push-lock';
import { createHookServer } from '../../server/git/hook-server';
import { EXIT_MARK } from '../../server/git/hook-client';
import type { PushSessions } from '../../server/git/endpoint';
import { createReleaseService } from '../../server/releases';
import { createRoutesPublisher } from '../../server/routes/publish';
import type { Runtime } from '../../server/runtime';
import { openState } from '../../server/state';
import { tmpDir } from '../helpers/home';

/**
 * The parts around the pipeline with an in-memory stand-in on one side and the real SQLite state:
 * the hook server (real Unix socket, stand-in pipeline), the release service (stand-in runtime)
 * and the route publisher (the runtime's backends handed over, the common parser reading back).
 */
function home() {
  const dir = tmpDir('slipway-parts-');
  const paths = homePaths(dir);
  fs.mkdirSync(paths.run, { recursive: true });
  const state = openState({ dbFile: path.join(dir, 'state.db'), keyFile: path.join(dir, 'secret.key') });
  const user = state.users.create('ana@example.com', true);
  const app = state.apps.create({ name: 'parts-app', ownerId: user.id, stack: 'bookworm' });
  return {
    dir,
    paths,
    state,
    user,
    app,
    cleanup: () => (state.db.close(), fs.rmSync(dir, { recursive: true, force: true })),
  };
}

function post(
  socketPath: string,
  pathname: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: pathname, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('hook server: only a known push may plan and build; the build streams the rendered events and the exit mark', async () => {
  const h = home();
  const sessions: PushSessions = new Map();
  const seen: DeployInput[] = [];
  const hooks = createHookServer({
    state: h.state,
    sessions,
    secret: 'test-secret',
    locks: createPushLocks(),
    // No repository: the expected-old-ref check reads an empty ref, as for a first push.
    repoDir: () => path.join(h.paths.repos, 'parts-app.git'),
    builds: {
      async deploy(input): Promise<DeployOutcome> {
        seen.push(input);
        input.onEvent({ type: 'building', stack: 'bookworm' });
        input.onEvent({ type: 'step', step: 'export', ms: 5 });
        input.onEvent({ type: 'released', version: 4 });
        return { build: {} as DeployOutcome['build'], releaseVersion: 4 };
      },
    },
  });
  const socket = path.join(h.paths.run, 'hook.sock');
  await hooks.listen(socket);
  try {
    assert.equal(fs.statSync(socket).mode & 0o777, 0o600);
    const sha = 'b'.repeat(40);
    const updates = `${'0'.repeat(40)} ${sha} refs/heads/main\n`;
    const known = { 'x-slipway-secret': 'test-secret', 'x-slipway-push-pid': '4242' };
    assert.equal(
      (await post(socket, '/plan', { ...known, 'x-slipway-secret': 'wrong-secret' }, JSON.stringify({ updates })))
        .status,
      403,
    );
    assert.equal(
      (await post(socket, '/plan', known, JSON.stringify({ updates }))).status,
      403,
      'no push session for that pid',
    );
    sessions.set(4242, {
      appName: 'parts-app',
      user: { id: h.user.id, email: h.user.email },
      signal: new AbortController().signal,
      finished: Promise.resolve(),
    });
    assert.equal((await post(socket, `/build?rev=${sha}`, known, 'tar')).status, 409, 'a build nobody planned');
    const plan = await post(socket, '/plan', known, JSON.stringify({ updates }));
    assert.deepEqual(JSON.parse(plan.text).build?.rev, sha);
    const build = await post(socket, `/build?rev=${sha}`, known, 'tar');
    assert.equal(build.text, `-----> Building on the bookworm stack\n       Released v4\n${EXIT_MARK}0\n`);
    assert.equal(seen.length, 1);
    assert.deepEqual(
      [seen[0].appName, seen[0].sourceVersion, seen[0].user?.email],
      ['parts-app', sha, 'ana@example.com'],
    );
    assert.equal((await post(socket, `/build?rev=${sha}`, known, 'tar')).status, 409, 'a plan builds once');
  } finally {
    await hooks.close();
    h.cleanup();
  }
});

test("releases: every kind goes create → rollout; a rollback makes the config vN's again; a failed stage keeps the current release", async () => {
  const h = home();
  let failStage = false;
  const abandoned: number[] = [];
  const stage: Runtime['stage'] = async ({ release }) => {
    if (failStage)
      throw new SlipwayError('DEPLOY_FAILED', `web.1 of v${release.version} failed its health check`, {
        hint: 'see slipway logs',
      });
    return { swap: async () => undefined, abandon: async () => void abandoned.push(release.version) };
  };
  const logs: string[] = [];
  const releases = createReleaseService({
    state: h.state,
    runtime: { stage },
    logs: { write: (_a, e) => void logs.push(e.line) },
  });
  const user = { id: h.user.id, email: h.user.email };
  const image = {
    appName: 'parts-app',
    imageRef: 'apps/parts-app:b1',
    imageDigest: `sha256:${'2'.repeat(64)}`,
    processTypes: { web: 'run' },
  };
  try {
    h.state.builds.create({ id: 'b1', appId: h.app.id, sourceVersion: null, userId: h.user.id, logPath: '/dev/null' });
    h.state.configVars.update(h.app.id, { GREETING: 'one' });
    const v1 = await releases.createFromBuild({ ...image, buildId: 'b1', user });
    h.state.configVars.update(h.app.id, { GREETING: 'two', EXTRA: 'x' });
    const v2 = await releases.configChanged('parts-app', user);
    assert.deepEqual([v1.version, v2?.version, v2?.description], [1, 2, 'Config change']);
    assert.deepEqual(h.state.releases.configOf(v2!), { EXTRA: 'x', GREETING: 'two' });

    const v3 = await releases.rollback('parts-app', 1, user);
    assert.equal(v3.description, 'Rollback to v1');
    assert.deepEqual(h.state.configVars.all(h.app.id), { GREETING: 'one' }, "the config vars are v1's again");
    assert.equal(h.state.apps.require('parts-app').currentReleaseId, v3.id);

    failStage = true;
    await assert.rejects(releases.rollback('parts-app', 2, user), /failed its health check/);
    const [v4] = h.state.releases.list(h.app.id);
    assert.deepEqual([v4.version, v4.status], [4, 'failed']);
    assert.equal(h.state.apps.require('parts-app').currentReleaseId, v3.id, 'v3 keeps serving');
    assert.deepEqual(
      h.state.configVars.all(h.app.id),
      { GREETING: 'one' },
      'a failed rollback leaves the config alone',
    );
    await assert.rejects(releases.rollback('parts-app', 4, user), /failed to deploy, so it cannot be rolled back to/);
    assert.deepEqual(abandoned, []);
    assert.match(
      logs.join('\n'),
      /Release v3 created by ana@example\.com: Rollback to v1\n[\s\S]*Release v4 failed \(Rollback to v2\)/,
    );
  } finally {
    h.cleanup();
  }
});

test("route publisher: the runtime hands over its web backends; later publishes keep them; the router's parser reads the file", async () => {
  const h = home();
  try {
    h.state.formation.setQuantities(h.app.id, { web: 2 }, 'standard-1x');
    h.state.domains.add(h.app.id, 'www.parts.test');
    const routes = createRoutesPublisher({ state: h.state, paths: h.paths, config: { domain: 'localhost' } as never });
    const backends = [
      { dyno: 'web.1', url: 'http://127.0.0.1:40001', release: 3 },
      { dyno: 'web.2', url: 'http://127.0.0.1:40002', release: 3 },
    ];
    await routes.publish(new Map([['parts-app', backends]]));
    h.state.apps.setMaintenance(h.app.id, true);
    await routes.publish(); // the API after a maintenance change: same backends
    const doc = parseRoutesFile(JSON.parse(fs.readFileSync(h.paths.routesFile, 'utf8')));
    assert.deepEqual(doc.apps['parts-app'], {
      hosts: ['parts-app.localhost', 'www.parts.test'],
      maintenance: true,
      httpsOnly: false,
      webQuantity: 2,
      backends,
    });
    await routes.publish(new Map());
    assert.deepEqual(
      parseRoutesFile(JSON.parse(fs.readFileSync(h.paths.routesFile, 'utf8'))).apps['parts-app'].backends,
      [],
      'no dynos: no backends',
    );
  } finally {
    h.cleanup();
  }
});
