import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { startTestServer, type TestServer } from '../helpers/server';
import { commitFile, createApp, git, gitUrl, uniq } from './git-helpers';
import { cli, tinyApp, waitFor, webBody } from './push-journey-helpers';

/**
 * Issue 14 through the real CLI binary and real git pushes against one real server: refused
 * config changes, boot time-outs and progress, hints by cause, commits in releases, deploy branch
 * and remotes, rebuilds and the build cache. A tiny Procfile-only app keeps each build short.
 */
let srv: TestServer;
const dirs: string[] = [];
const APP = uniq('jcfg');
let work: string;

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BOOT_TIMEOUT_MAX_S: '300' } });
  await createApp(srv, APP);
  // The release phase refuses GREETING=bad; web.pl dies at boot on GREETING=crash.
  work = await tinyApp('v1', {
    Procfile: 'web: perl web.pl\nrelease: test "$GREETING" != bad && sleep ${RELEASE_SLEEP:-0}\n',
  });
  dirs.push(work);
  const r = await git(['push', gitUrl(srv, APP), 'main'], work);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const answers = (want: string) =>
  waitFor(
    `web to answer ${want}`,
    async () => {
      const t = await webBody(srv, APP);
      return t.endsWith(want) ? t : undefined;
    },
    60_000,
  );

test('a config change whose release fails leaves the stored config as it was, says so, and the next push works', async () => {
  const ok = await cli(srv, ['config:set', 'GREETING=hello', '-a', APP]);
  assert.equal(ok.code, 0, ok.stderr);
  await answers('GREETING=hello');

  // Refused by the release phase.
  const bad = await cli(srv, ['config:set', 'GREETING=bad', '-a', APP]);
  assert.notEqual(bad.code, 0, bad.stdout);
  assert.match(bad.stderr, /not applied: GREETING keeps its previous value/);
  assert.match(bad.stderr, /slipway config:set GREETING=… -a /);
  assert.equal((await cli(srv, ['config:get', 'GREETING', '-a', APP])).stdout.trim(), 'hello');

  // Refused by the health check (the web dyno dies at boot).
  const crash = await cli(srv, ['config:set', 'GREETING=crash', 'OTHER=1', '-a', APP]);
  assert.notEqual(crash.code, 0, crash.stdout);
  assert.match(crash.stderr, /not applied: GREETING, OTHER keep their previous values/);
  const cfg = JSON.parse((await cli(srv, ['config', '-a', APP, '--json'])).stdout) as Record<string, string>;
  assert.equal(cfg.GREETING, 'hello');
  assert.equal(cfg.OTHER, undefined);
  assert.equal(await webBody(srv, APP), 'v1 GREETING=hello');

  // The next push releases with the stored (old) value.
  await commitFile(work, 'marker.txt', 'v2');
  const r = await git(['push', gitUrl(srv, APP), 'main'], work);
  assert.equal(r.code, 0, r.stderr);
  await answers('v2 GREETING=hello');
});

test('ps:boot-timeout sets how long web dynos have to answer (platform maximum, app.json); every wait prints progress every 5 s in the CLI and the push', async () => {
  const max = await cli(srv, ['ps:boot-timeout', '100000', '-a', APP]);
  assert.notEqual(max.code, 0);
  assert.match(max.stderr, /from 1 to 300 \(this platform's maximum\)/);
  const set = await cli(srv, ['ps:boot-timeout', '20', '-a', APP]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(
    set.stdout,
    /web dynos have 20 s to answer on \$PORT \(set with ps:boot-timeout; platform maximum 300 s\)/,
  );

  // A slow release phase and a slow boot: the CLI says what it waits for while config:set runs.
  const slow = await cli(srv, ['config:set', 'BOOT_DELAY=7', 'RELEASE_SLEEP=6', '-a', APP]);
  assert.equal(slow.code, 0, slow.stderr);
  assert.match(slow.stderr, /release phase still running \(\d+ s of \d+\)/);
  assert.match(slow.stderr, /waiting for web\.1 to answer on \$PORT \(\d+ s of 20\)/);
  assert.match(slow.stdout, /Setting BOOT_DELAY, RELEASE_SLEEP and restarting .*done, v\d+/);

  // The same lines in a push.
  await commitFile(work, 'marker.txt', 'v3');
  const push = await git(['push', gitUrl(srv, APP), 'main'], work);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stderr, /remote: .*release phase still running \(\d+ s of \d+\)/);
  assert.match(push.stderr, /remote: .*waiting for web\.1 to answer on \$PORT \(\d+ s of 20\)/);

  // ps:restart waits too, and says so.
  const restart = await cli(srv, ['ps:restart', '-a', APP]);
  assert.equal(restart.code, 0, restart.stderr);
  assert.match(restart.stderr, /waiting for web\.1 to answer on \$PORT \(\d+ s of 20\)/);

  // A boot slower than the timeout fails the change (and it is not kept).
  assert.equal((await cli(srv, ['ps:boot-timeout', '4', '-a', APP])).code, 0);
  const tooSlow = await cli(srv, ['config:set', 'BOOT_DELAY=9', '-a', APP]);
  assert.notEqual(tooSlow.code, 0);
  assert.match(tooSlow.stderr, /listens on no port after 4 s/);
  assert.match(tooSlow.stderr, /not applied: BOOT_DELAY keeps its previous value/);

  // Back to the default; app.json boot_timeout applies when the app sets none.
  assert.equal((await cli(srv, ['ps:boot-timeout', 'default', '-a', APP])).code, 0);
  assert.equal((await cli(srv, ['config:unset', 'BOOT_DELAY', 'RELEASE_SLEEP', '-a', APP])).code, 0);
  fs.writeFileSync(`${work}/app.json`, JSON.stringify({ boot_timeout: 45 }));
  await git(['add', 'app.json'], work);
  await git(['commit', '-qm', 'boot_timeout in app.json'], work);
  assert.equal((await git(['push', gitUrl(srv, APP), 'main'], work)).code, 0);
  const shown = JSON.parse((await cli(srv, ['ps:boot-timeout', '-a', APP, '--json'])).stdout) as {
    effective: number;
    source: string;
  };
  assert.deepEqual([shown.effective, shown.source], [45, 'app.json']);
});

test('releases, events and builds name the commit (short sha and subject); builds:output takes a unique prefix of a build id', async () => {
  const sha = await commitFile(work, 'marker.txt', 'v4', 'Fix the footer');
  const r = await git(['push', gitUrl(srv, APP), 'main'], work);
  assert.equal(r.code, 0, r.stderr);
  const label = `${sha.slice(0, 7)} Fix the footer`;
  assert.match((await cli(srv, ['releases', '-a', APP])).stdout, new RegExp(`Deploy ${label}`));
  const builds = (await cli(srv, ['builds', '-a', APP])).stdout;
  assert.match(builds, new RegExp(label));
  assert.match((await cli(srv, ['events', '-a', APP])).stdout, new RegExp(`Build of ${label} succeeded`));
  const [latest] = JSON.parse((await cli(srv, ['builds', '-a', APP, '--json'])).stdout) as Array<{
    id: string;
    commit: string;
  }>;
  assert.equal(latest.commit, label);
  const out = await cli(srv, ['builds:output', latest.id.slice(0, 8), '-a', APP]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /Building on the bookworm stack[\s\S]*Released v\d+/);
  const none = await cli(srv, ['builds:output', 'ffffffff', '-a', APP]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /does not exist/);
});

test('deploy branch and remotes: apps:create names the push for the current branch; git:branch; git:clone and git:remote are ready to push', async () => {
  const env = {
    ...srv.cliEnv(),
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'T',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 'T',
    GIT_COMMITTER_EMAIL: 't@example.com',
  };
  // git with the CLI's credentials in its environment: the `slipway git-credential` helper answers.
  const g = (args: string[], cwd: string) =>
    new Promise<{ code: number; out: string }>((resolve) =>
      execFile('git', args, { cwd, env }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
      ),
    );
  const app = uniq('jbranch');
  const dir = await tinyApp('branchy');
  dirs.push(dir);
  await g(['checkout', '-q', '-b', 'feature'], dir);
  const created = await cli(srv, ['apps:create', app], { cwd: dir });
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /deploy with: git push slipway feature:main/);
  const first = await g(['push', 'slipway', 'feature:main'], dir);
  assert.equal(first.code, 0, first.out);

  const set = await cli(srv, ['git:branch', 'production', '-a', app], { cwd: dir });
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /deploys pushes to production/);
  assert.match(set.stdout, /Deploy this repository's feature with: git push slipway feature:production/);
  await commitFile(dir, 'marker.txt', 'branchy-2');
  const refused = await g(['push', 'slipway', 'feature:main'], dir);
  assert.notEqual(refused.code, 0);
  assert.match(refused.out, /this app deploys from production only/);
  assert.match(refused.out, /To deploy it: git push slipway main:production/);
  const unset = await cli(srv, ['git:branch', '--unset', '-a', app]);
  assert.match(unset.stdout, /deploys pushes to main or master \(the default\)/);

  // git:clone: a clone that pushes as is (remote slipway, credential helper; no token in .git/config).
  const cloneDir = `${dir}-clone`;
  dirs.push(cloneDir);
  const cl = await cli(srv, ['git:clone', '-a', app, cloneDir]);
  assert.equal(cl.code, 0, cl.stderr);
  assert.match(cl.stdout, /deploy with: cd .* && git push slipway main/);
  assert.equal(fs.readFileSync(`${cloneDir}/marker.txt`, 'utf8'), 'branchy');
  assert.doesNotMatch(fs.readFileSync(`${cloneDir}/.git/config`, 'utf8'), new RegExp(srv.token));
  await commitFile(cloneDir, 'marker.txt', 'from-clone');
  const pushed = await g(['push', 'slipway', 'main'], cloneDir);
  assert.equal(pushed.code, 0, pushed.out);

  // git:remote: an existing clone gets the remote and the helper.
  const other = await tinyApp('other');
  dirs.push(other);
  const rem = await cli(srv, ['git:remote', '-a', app], { cwd: other });
  assert.equal(rem.code, 0, rem.stderr);
  assert.match(rem.stdout, /Git remote slipway set to .*\.git; deploy with: git push slipway main/);
  const fetched = await g(['fetch', 'slipway'], other);
  assert.equal(fetched.code, 0, fetched.out);
  assert.equal(
    (await g(['rev-parse', 'slipway/main'], other)).out.trim(),
    (await g(['rev-parse', 'HEAD'], cloneDir)).out.trim(),
  );
});

test('builds:cache:purge clears the build cache; builds:create rebuilds and releases the current commit without a new commit', async () => {
  const cacheDir = `${srv.paths.caches}/${APP}`;
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(`${cacheDir}/marker`, 'x'.repeat(2048));
  const purged = await cli(srv, ['builds:cache:purge', '-a', APP]);
  assert.equal(purged.code, 0, purged.stderr);
  assert.match(purged.stdout, /Purging the build cache of .*\.\.\. done, \d+\.\d MB freed/);
  assert.equal(fs.existsSync(cacheDir), false);

  const head = (await git(['ls-remote', gitUrl(srv, APP), 'refs/heads/main'])).stdout.split(/\s/)[0];
  const before = JSON.parse((await cli(srv, ['releases', '-a', APP, '--json'])).stdout) as Array<{ version: number }>;
  const r = await cli(srv, ['builds:create', '-a', APP]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stderr, new RegExp(`Rebuilding ${head.slice(0, 7)} `));
  assert.match(r.stdout, /Building on the bookworm stack[\s\S]*Released v\d+/);
  const after = JSON.parse((await cli(srv, ['releases', '-a', APP, '--json'])).stdout) as Array<{
    version: number;
    description: string;
  }>;
  assert.equal(after.length, before.length + 1);
  assert.match(after[0].description, new RegExp(`^Deploy ${head.slice(0, 7)}`));
  const [latest, previous] = JSON.parse((await cli(srv, ['builds', '-a', APP, '--json'])).stdout) as Array<{
    sourceVersion: string;
    status: string;
  }>;
  assert.deepEqual([latest.sourceVersion, latest.status], [head, 'succeeded']);
  assert.equal(previous.sourceVersion, head, 'the same commit, built again');
  assert.equal(
    (await git(['ls-remote', gitUrl(srv, APP), 'refs/heads/main'])).stdout.split(/\s/)[0],
    head,
    'no new commit',
  );
});
