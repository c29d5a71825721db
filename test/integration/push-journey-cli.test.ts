import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
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
  srv = await startTestServer();
  await createApp(srv, APP);
  // The release phase refuses GREETING=bad; web.pl dies at boot on GREETING=crash.
  work = await tinyApp('v1', { Procfile: 'web: perl web.pl\nrelease: test "$GREETING" != bad\n' });
  dirs.push(work);
  const r = await git(['push', gitUrl(srv, APP), 'main'], work);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const answers = (want: string) =>
  waitFor(`web to answer ${want}`, async () => {
    const t = await webBody(srv, APP);
    return t.endsWith(want) ? t : undefined;
  }, 60_000);

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
