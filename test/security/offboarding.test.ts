import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';
import { api, git, gitUrl } from '../integration/git-helpers';
import { cli, makeUser, ok, spawnCli, waitFor } from './accounts-helpers';

/**
 * Offboarding and roles through the real CLI binary, the API and git: disabling a user stops
 * their tokens, git access and open `logs -t` streams at once; admins revoke anyone's tokens,
 * delete users and demote admins; viewers see config keys (not values) and read logs; a new app
 * reusing a destroyed app's name sees none of the old app's events or log lines.
 */
let srv: TestServer;

before(async () => {
  // These tests use refused credentials on purpose: keep the failed-auth back-off out of the way.
  srv = await startTestServer({ seedStacks: false, env: { SLIPWAY_AUTH_FAILURE_LIMIT: '1000' } });
});
after(async () => {
  await srv?.stop();
});

test('a disabled user: open logs -t stream ends at once, API, git fetch and git push refused; enabling restores access', async () => {
  const cy = await makeUser(srv, 'cy@example.com');
  await ok(srv, ['apps:create', 'cy-app'], cy);
  const stream = spawnCli(srv, ['logs', '-t', '-a', 'cy-app'], cy);
  try {
    // The stream is live once a new line arrives through it.
    await waitFor('the log stream to connect', async () => {
      await ok(srv, ['config:set', `PING_${Date.now()}=1`, '-a', 'cy-app'], cy);
      return /Set PING_\d+ config vars by cy@example\.com/.test(stream.output());
    });
    const disabled = await ok(srv, ['users:disable', 'cy@example.com']);
    assert.match(disabled, /Disabling cy@example\.com\.\.\. done \(1 open log session ended\)/);
    // The server ends the session; the CLI's reconnect is then refused (401), which ends it for good.
    const code = await Promise.race([
      stream.exited,
      new Promise<string>((r) => setTimeout(() => r('still running'), 5000)),
    ]);
    assert.equal(
      typeof code,
      'number',
      `logs -t should end promptly when its user is disabled; output: ${stream.output()}`,
    );
    assert.notEqual(code, 0);
    assert.match(stream.output(), /this API token is not valid/);
  } finally {
    stream.child.kill();
  }
  const apps = await cli(srv, ['apps'], cy);
  assert.notEqual(apps.code, 0);
  assert.match(apps.stderr, /not valid/);

  const work = tmpDir('slipway-disabled-');
  try {
    assert.equal((await git(['init', '-q', work])).code, 0);
    fs.writeFileSync(path.join(work, 'Procfile'), 'web: sleep infinity\n');
    assert.equal((await git(['add', '.'], work)).code, 0);
    assert.equal((await git(['commit', '-qm', 'x'], work)).code, 0);
    const push = await git(['push', gitUrl(srv, 'cy-app', cy), 'HEAD:main'], work, 60_000);
    assert.notEqual(push.code, 0);
    assert.match(push.stderr, /invalid or revoked token|Authentication failed/);
    const fetch = await git(['ls-remote', gitUrl(srv, 'cy-app', cy)], work, 60_000);
    assert.notEqual(fetch.code, 0);

    const users = JSON.parse(await ok(srv, ['users', '--json'])) as Array<{ email: string; disabled: boolean }>;
    assert.equal(users.find((u) => u.email === 'cy@example.com')?.disabled, true);
    await ok(srv, ['users:enable', 'cy@example.com']);
    await ok(srv, ['apps'], cy);
    assert.equal((await git(['ls-remote', gitUrl(srv, 'cy-app', cy)], work, 60_000)).code, 0);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test("admins revoke another user's tokens (one or all); others may not", async () => {
  const di = await makeUser(srv, 'di@example.com');
  const second = JSON.parse(await ok(srv, ['tokens:create', '--json'], di)) as { id: number; token: string };
  // A member cannot touch someone else's tokens.
  const denied = await cli(srv, ['tokens:revoke', '--user', 'admin@example.com', '--all'], di);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /only an admin may revoke another user's tokens/);

  const listed = JSON.parse(await ok(srv, ['tokens', '--user', 'di@example.com', '--json'])) as Array<{
    id: number;
    revokedAt: string | null;
  }>;
  assert.equal(listed.length, 2);
  await ok(srv, ['tokens:revoke', String(second.id), '--user', 'di@example.com']);
  assert.notEqual((await cli(srv, ['apps'], second.token)).code, 0);
  await ok(srv, ['apps'], di);
  assert.match(
    await ok(srv, ['tokens:revoke', '--user', 'di@example.com', '--all']),
    /Revoked 1 token of di@example\.com/,
  );
  assert.notEqual((await cli(srv, ['apps'], di)).code, 0);
});

test('roles: an admin promotes and demotes; the last active admin cannot be demoted, disabled or deleted', async () => {
  const ed = await makeUser(srv, 'ed@example.com');
  assert.notEqual((await cli(srv, ['users'], ed)).code, 0);
  await ok(srv, ['users:role', 'ed@example.com', 'admin']);
  await ok(srv, ['users'], ed);
  // ed (now an admin) demotes the bootstrap admin, then cannot demote themselves: the last one.
  await ok(srv, ['users:role', 'admin@example.com', 'member'], ed);
  assert.notEqual((await cli(srv, ['users'])).code, 0, 'the demoted admin lost admin rights at once');
  const last = await cli(srv, ['users:role', 'ed@example.com', 'member'], ed);
  assert.notEqual(last.code, 0);
  assert.match(last.stderr, /ed@example\.com is the only active admin and cannot be demoted/);
  assert.match((await cli(srv, ['users:disable', 'ed@example.com'], ed)).stderr, /only active admin/);
  await ok(srv, ['users:role', 'admin@example.com', 'admin'], ed);
  await ok(srv, ['users:role', 'ed@example.com', 'member']);
  assert.notEqual((await cli(srv, ['users'], ed)).code, 0);
});

test('users:delete: refused while the user owns apps; then tokens and access go, and the email can be reused', async () => {
  const fay = await makeUser(srv, 'fay@example.com');
  await ok(srv, ['apps:create', 'fay-app'], fay);
  await ok(srv, ['apps:create', 'shared-app']);
  await ok(srv, ['access:add', 'fay@example.com', '-a', 'shared-app']);
  const owns = await cli(srv, ['users:delete', 'fay@example.com', '--confirm', 'fay@example.com']);
  assert.notEqual(owns.code, 0);
  assert.match(owns.stderr, /fay@example\.com still owns 1 app: fay-app/);
  await ok(srv, ['apps:destroy', '-a', 'fay-app', '--confirm', 'fay-app']);
  await ok(srv, ['users:delete', 'fay@example.com', '--confirm', 'fay@example.com']);
  assert.notEqual((await cli(srv, ['apps'], fay)).code, 0);
  const access = JSON.parse(await ok(srv, ['access', '-a', 'shared-app', '--json'])) as Array<{ email: string }>;
  assert.ok(!access.some((a) => a.email === 'fay@example.com'), JSON.stringify(access));
  const users = JSON.parse(await ok(srv, ['users', '--json'])) as Array<{ email: string }>;
  assert.ok(!users.some((u) => u.email === 'fay@example.com'));
  const again = await makeUser(srv, 'fay@example.com');
  assert.deepEqual(JSON.parse(await ok(srv, ['apps', '--json'], again)), []);
});

test('viewers see config keys but not values, and can read logs', async () => {
  await ok(srv, ['apps:create', 'view-app']);
  await ok(srv, ['config:set', 'SECRET_TOKEN=hunter2-value', '-a', 'view-app']);
  const gil = await makeUser(srv, 'gil@example.com');
  await ok(srv, ['access:add', 'gil@example.com', '--role', 'viewer', '-a', 'view-app']);

  const shown = await ok(srv, ['config', '-a', 'view-app'], gil);
  assert.match(shown, /SECRET_TOKEN:\s+\(hidden\)/);
  assert.doesNotMatch(shown, /hunter2/);
  const json = JSON.parse(await ok(srv, ['config', '-a', 'view-app', '--json'], gil)) as Record<string, unknown>;
  assert.deepEqual(json, { SECRET_TOKEN: null });
  const one = await cli(srv, ['config:get', 'SECRET_TOKEN', '-a', 'view-app'], gil);
  assert.notEqual(one.code, 0);
  assert.doesNotMatch(one.stdout + one.stderr, /hunter2/);
  const raw = await api<Record<string, unknown>>(srv, 'GET', '/apps/view-app/config', undefined, gil);
  assert.equal(raw.status, 200);
  assert.doesNotMatch(JSON.stringify(raw.body), /hunter2/);
  // Collaborators and owners still see values.
  assert.match(await ok(srv, ['config:get', 'SECRET_TOKEN', '-a', 'view-app']), /hunter2-value/);

  const logs = await ok(srv, ['logs', '-a', 'view-app'], gil);
  assert.match(logs, /app\[api\]: Set SECRET_TOKEN config vars by admin@example\.com/);
  assert.doesNotMatch(logs, /hunter2/);
  // Still read-only.
  assert.notEqual((await cli(srv, ['config:set', 'X=1', '-a', 'view-app'], gil)).code, 0);
});

test("a new app reusing a destroyed app's name sees none of the old app's events or log lines", async () => {
  await ok(srv, ['apps:create', 'reused-name']);
  await ok(srv, ['config:set', 'OLD_APP_MARKER=1', '-a', 'reused-name']);
  await ok(srv, ['maintenance:on', '-a', 'reused-name']);
  assert.match(await ok(srv, ['logs', '-a', 'reused-name']), /OLD_APP_MARKER/);
  await ok(srv, ['apps:destroy', '-a', 'reused-name', '--confirm', 'reused-name']);

  await ok(srv, ['apps:create', 'reused-name']);
  const events = JSON.parse(await ok(srv, ['events', '-a', 'reused-name', '--json'])) as Array<{
    action: string;
    message: string;
  }>;
  assert.deepEqual(
    events.map((e) => e.action),
    ['app.create'],
    JSON.stringify(events),
  );
  const logs = await ok(srv, ['logs', '-a', 'reused-name']);
  assert.doesNotMatch(logs, /OLD_APP_MARKER|Maintenance mode enabled/);
  assert.ok(
    !fs.readFileSync(path.join(srv.paths.logs, 'apps', 'reused-name.ndjson'), 'utf8').includes('OLD_APP_MARKER'),
  );
  // The platform-wide trail (admins) keeps the old app's history under its name.
  const all = JSON.parse(await ok(srv, ['events', '--json'])) as Array<{
    action: string;
    appName: string;
    message: string;
  }>;
  assert.ok(all.some((e) => e.appName === 'reused-name' && e.action === 'app.destroy'));
  assert.ok(all.some((e) => e.appName === 'reused-name' && /OLD_APP_MARKER/.test(e.message)));
});
