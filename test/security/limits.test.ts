import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';
import { git, gitUrl } from '../integration/git-helpers';
import { cli, makeUser, ok } from './accounts-helpers';

/**
 * Per-account limits through the real entry points: the CLI binary, the API and a real git push.
 * One server for the file; the platform default for apps is set by the operator's environment.
 */
let srv: TestServer;
let ana: string; // a user's token
const ANA = 'ana@example.com';

before(async () => {
  srv = await startTestServer({ seedStacks: false, env: { SLIPWAY_LIMIT_APPS: '2' } });
  ana = await makeUser(srv, ANA);
});
after(async () => {
  await srv?.stop();
});

test('apps limit: the operator default applies, the refusal names the limit, its value and the admin command; an admin raises it', async () => {
  await ok(srv, ['apps:create', 'ana-one'], ana);
  await ok(srv, ['apps:create', 'ana-two'], ana);
  const refused = await cli(srv, ['apps:create', 'ana-three'], ana);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /apps limit reached: user ana@example\.com has 2 of 2 apps/);
  assert.match(refused.stderr, /an admin can raise it with: slipway limits:set ana@example\.com apps=4/);

  // Users read their own limits but cannot raise them.
  const mine = JSON.parse(await ok(srv, ['limits', '--json'], ana)) as {
    limits: Record<string, number>;
    usage: Record<string, number>;
  };
  assert.equal(mine.limits.apps, 2);
  assert.equal(mine.usage.apps, 2);
  const self = await cli(srv, ['limits:set', ANA, 'apps=50'], ana);
  assert.notEqual(self.code, 0);
  assert.match(self.stderr, /only an admin may set limits/);

  await ok(srv, ['limits:set', ANA, 'apps=3']);
  const shown = JSON.parse(await ok(srv, ['limits', ANA, '--json'])) as {
    limits: Record<string, number>;
    overrides: Record<string, number>;
    defaults: Record<string, number>;
  };
  assert.equal(shown.limits.apps, 3);
  assert.deepEqual(shown.overrides, { apps: 3 });
  assert.equal(shown.defaults.apps, 2);
  await ok(srv, ['apps:create', 'ana-three'], ana);
  assert.match(
    (await cli(srv, ['apps:create', 'ana-four'], ana)).stderr,
    /apps limit reached: user ana@example\.com has 3 of 3 apps/,
  );
  const table = await ok(srv, ['limits', ANA]);
  assert.match(table, /apps\s+3 apps\s+set by an admin \(default 2\)/);
  // A bad key or value is refused before it reaches the server.
  assert.match((await cli(srv, ['limits:set', ANA, 'cpus=4'])).stderr, /"cpus" is not a limit/);
});

test('dynos and dynos-per-type limits: ps:scale beyond them is refused with the limit named', async () => {
  await ok(srv, ['limits:set', ANA, 'dynos=3', 'dynos-per-type=2']);
  const perType = await cli(srv, ['ps:scale', 'web=3', '-a', 'ana-one'], ana);
  assert.notEqual(perType.code, 0);
  assert.match(
    perType.stderr,
    /dynos-per-type limit reached: user ana@example\.com \(owner of ana-one\) may run 2 dynos per process type, and web@3 asks for 3/,
  );
  assert.match(perType.stderr, /slipway limits:set ana@example\.com dynos-per-type=4/);
  const total = await cli(srv, ['ps:scale', 'web=2', 'worker=2', '-a', 'ana-one'], ana);
  assert.notEqual(total.code, 0);
  assert.match(
    total.stderr,
    /dynos limit reached: user ana@example\.com \(owner of ana-one\) may run 3 dynos per app, and this formation asks for 4/,
  );
  // The owner's limit applies to whoever scales (here an admin acting on ana's app).
  assert.match((await cli(srv, ['ps:scale', 'web=3', '-a', 'ana-one'])).stderr, /dynos-per-type limit reached/);
});

test('one-offs limit: slipway run and run:detached are refused at the limit, naming it', async () => {
  await ok(srv, ['limits:set', ANA, 'one-offs=0']);
  const detached = await cli(srv, ['run:detached', '-a', 'ana-one', '--', 'echo', 'hi'], ana);
  assert.notEqual(detached.code, 0);
  assert.match(
    detached.stderr,
    /one-offs limit reached: user ana@example\.com \(owner of ana-one\) has 0 of 0 one-offs/,
  );
  assert.match(detached.stderr, /slipway limits:set ana@example\.com one-offs=1/);
  const attached = await cli(srv, ['run', '-a', 'ana-one', '--', 'echo', 'hi'], ana);
  assert.notEqual(attached.code, 0);
  assert.match(attached.stdout + attached.stderr, /one-offs limit reached: user ana@example\.com/);
});

test('push-mb limit: a real git push over it is refused with the limit named, and nothing lands in the repository', async () => {
  const bo = await makeUser(srv, 'bo@example.com');
  await ok(srv, ['apps:create', 'bo-push'], bo);
  await ok(srv, ['limits:set', 'bo@example.com', 'push-mb=1']);
  const work = tmpDir('slipway-push-limit-');
  try {
    assert.equal((await git(['init', '-q', work])).code, 0);
    // Random bytes do not compress: the pack is about 3 MiB.
    fs.writeFileSync(path.join(work, 'blob.bin'), randomBytes(3 * 1024 * 1024));
    fs.writeFileSync(path.join(work, 'Procfile'), 'web: sleep infinity\n');
    assert.equal((await git(['add', '.'], work)).code, 0);
    assert.equal((await git(['commit', '-qm', 'big'], work)).code, 0);
    const push = await git(['push', gitUrl(srv, 'bo-push', bo), 'HEAD:main'], work, 120_000);
    assert.notEqual(push.code, 0, push.stderr);
    assert.match(
      push.stderr,
      /push-mb limit reached: user bo@example\.com \(owner of bo-push\) may push at most 1 MiB at once/,
    );
    assert.match(push.stderr, /an admin can raise it with: slipway limits:set bo@example\.com push-mb=2/);
    const refs = await git(['ls-remote', gitUrl(srv, 'bo-push', bo)], work);
    assert.equal(refs.code, 0, refs.stderr + srv.output().slice(-3000));
    assert.equal(refs.stdout.trim(), '', 'no ref was created');
    const objects = path.join(srv.paths.repos, 'bo-push.git', 'objects', 'pack');
    const packed = fs.existsSync(objects) ? fs.readdirSync(objects).filter((f) => f.endsWith('.pack')) : [];
    assert.deepEqual(packed, [], 'no pack was kept');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
