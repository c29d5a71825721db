import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { startTestServer, type TestServer } from '../helpers/server';
import { api, commitFile, createApp, git, gitUrl, remoteHead, spawnGit, uniq } from './git-helpers';
import { cloneOf, tinyApp, waitFor, webBody } from './push-journey-helpers';

/**
 * Issue 14 item 1: two pushes at once never deploy the wrong code. Real git pushes of a tiny
 * Procfile-only app (a build takes a second or two) against one real server.
 */
let srv: TestServer;
const dirs: string[] = [];
const APP = uniq('race');

interface Release {
  version: number;
  buildId: string | null;
  status: string;
  description: string;
}
interface Build {
  id: string;
  sourceVersion: string;
  status: string;
}

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BUILD_CONCURRENCY: '2' } });
  await createApp(srv, APP);
  const base = await tinyApp('base');
  dirs.push(base);
  const r = await git(['push', gitUrl(srv, APP), 'main'], base);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The commit the app's current release was built from. */
async function runningCommit(): Promise<{ version: number; sha: string }> {
  const app = (await api<{ release: { version: number } | null }>(srv, 'GET', `/apps/${APP}`)).body;
  const rel = (await api<Release>(srv, 'GET', `/apps/${APP}/releases/${app.release!.version}`)).body;
  const build = (await api<Build[]>(srv, 'GET', `/apps/${APP}/builds`)).body.find((b) => b.id === rel.buildId);
  return { version: rel.version, sha: build!.sourceVersion };
}

test('two clones pushing different commits from the same base at once: one is released, the other is rejected before building (10 rounds)', async () => {
  const a = await cloneOf(srv, APP, dirs);
  const b = await cloneOf(srv, APP, dirs);
  for (let round = 1; round <= 10; round++) {
    for (const dir of [a, b]) {
      assert.equal((await git(['fetch', '-q', 'origin'], dir)).code, 0);
      await git(['reset', '-q', '--hard', 'origin/main'], dir);
    }
    const base = await remoteHead(srv, APP);
    const releasesBefore = (await api<Release[]>(srv, 'GET', `/apps/${APP}/releases`)).body.length;
    const shaA = await commitFile(a, 'marker.txt', `a${round}`);
    const shaB = await commitFile(b, 'marker.txt', `b${round}`);
    // Alternate who starts first; the second follows at once.
    const [first, second] = round % 2 ? [a, b] : [b, a];
    const p1 = spawnGit(['push', 'origin', 'main'], first);
    const p2 = spawnGit(['push', 'origin', 'main'], second);
    const [c1, c2] = await Promise.all([p1.done, p2.done]);
    const byDir = new Map([
      [first, { code: c1, out: p1.output() }],
      [second, { code: c2, out: p2.output() }],
    ]);
    const ra = byDir.get(a)!;
    const rb = byDir.get(b)!;
    const ctx = `round ${round}\n--- A (${shaA.slice(0, 7)}):\n${ra.out}\n--- B (${shaB.slice(0, 7)}):\n${rb.out}`;
    assert.equal([ra.code, rb.code].filter((c) => c === 0).length, 1, `exactly one push succeeds; ${ctx}`);
    const [winner, loser, winnerSha, marker] =
      ra.code === 0 ? [ra, rb, shaA, `a${round}`] : [rb, ra, shaB, `b${round}`];
    assert.match(winner.out, /deployed to Slipway/, ctx);
    // The loser is refused with git's non-fast-forward wording, before anything was built.
    assert.match(loser.out, /\[rejected\]\s+main -> main \(fetch first\)/, ctx);
    assert.doesNotMatch(loser.out, /Building on the|Launching|Released v|deployed to Slipway/, ctx);

    const ref = await remoteHead(srv, APP);
    assert.equal(ref, winnerSha, ctx);
    assert.notEqual(ref, base);
    const running = await runningCommit();
    assert.equal(running.sha, ref, `the running release names the ref's commit; ${ctx}`);
    assert.equal(
      (await api<Release[]>(srv, 'GET', `/apps/${APP}/releases`)).body.length,
      releasesBefore + 1,
      `exactly one release; ${ctx}`,
    );
    const body = await waitFor(
      'web.1 to answer with the winner',
      async () => {
        const t = await webBody(srv, APP);
        return t.startsWith(marker) ? t : undefined;
      },
      30_000,
    );
    assert.ok(body.startsWith(marker));
  }
});

test('two force pushes at once: each is checked against the ref it expects, so the later one never replaces the earlier one unseen', async () => {
  const a = await cloneOf(srv, APP, dirs);
  const b = await cloneOf(srv, APP, dirs);
  // Both rewrite the same last commit (not fast-forwards) and force-push at once.
  fs.writeFileSync(`${a}/marker.txt`, 'forced-a');
  fs.writeFileSync(`${b}/marker.txt`, 'forced-b');
  for (const d of [a, b]) {
    await git(['commit', '-qa', '--amend', '-m', 'rewritten'], d);
  }
  const shaA = (await git(['rev-parse', 'HEAD'], a)).stdout.trim();
  const shaB = (await git(['rev-parse', 'HEAD'], b)).stdout.trim();
  const pa = spawnGit(['push', '--force', 'origin', 'main'], a);
  const pb = spawnGit(['push', '--force', 'origin', 'main'], b);
  const [ca, cb] = await Promise.all([pa.done, pb.done]);
  const ctx = `--- A:\n${pa.output()}\n--- B:\n${pb.output()}`;
  assert.equal([ca, cb].filter((c) => c === 0).length, 1, ctx);
  const [winnerSha, loser] = ca === 0 ? [shaA, pb.output()] : [shaB, pa.output()];
  assert.match(loser, /\[rejected\]\s+main -> main \(fetch first\)/, ctx);
  assert.doesNotMatch(loser, /Building on the|Released v/, ctx);
  assert.equal(await remoteHead(srv, APP), winnerSha);
  assert.equal((await runningCommit()).sha, winnerSha);
});
