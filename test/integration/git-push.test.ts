import { waitFor } from '../helpers/wait';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import {
  api,
  commitFile,
  createApp,
  getVia,
  git,
  gitUrl,
  makeRepo,
  remoteHead,
  spawnGit,
  startRouter,
  uniq,
} from './git-helpers';

/**
 * `git push` that really builds (buildpack lifecycle in Docker) and really deploys (runtime +
 * router), with the real git CLI over HTTP. One server for the file: builds of two apps may run
 * side by side (SLIPWAY_BUILD_CONCURRENCY=2).
 */
const run = promisify(execFile);
const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'apps', 'node-express');

let srv: TestServer;
let stopRouter: (() => Promise<void>) | undefined;
const appA = uniq('gpush');
const appB = uniq('gpushb');
const dirs: string[] = [];

interface Build {
  id: string;
  status: string;
  sourceVersion: string;
  release: number | null;
  imageDigest: string | null;
  buildpacks: Array<{ id: string }>;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A build.js that prints a line every half second for `seconds`, then writes what server.js reads. */
const slowBuild = (seconds: number, tag: string) => `
let i = 0;
const t = setInterval(() => {
  console.log('still building ${tag} ' + ++i);
  if (i >= ${seconds * 2}) {
    clearInterval(t);
    require('fs').writeFileSync('build-info.json', JSON.stringify({ builtWithDevDeps: true }));
  }
}, 500);
`;
/** server.js answering with a version marker, so a test can tell releases apart. */
const server = (marker: string) => `
const express = require('express');
const app = express();
app.get('/', (_req, res) => res.json({ message: 'hello from express', marker: ${JSON.stringify(marker)} }));
app.listen(Number(process.env.PORT || 5000));
`;

before(async () => {
  srv = await startTestServer({
    // Both apps belong to the admin: their builds limit (default: half the slots) is raised to both slots.
    env: {
      SLIPWAY_BUILD_CONCURRENCY: '2',
      SLIPWAY_LIMIT_BUILDS: '2',
      SLIPWAY_BUILD_QUEUE_WAIT_S: '600',
      SLIPWAY_BUILD_TIMEOUT_S: '600',
    },
  });
  stopRouter = await startRouter(srv);
  await createApp(srv, appA);
  await createApp(srv, appB);
});

after(async () => {
  await stopRouter?.();
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function repoOf(files: Record<string, string>): Promise<string> {
  const dir = await makeRepo(files, FIXTURE);
  dirs.push(dir);
  return dir;
}

/** GET / of the app through the router (retrying while the new route is published). */
async function answer(app: string, want?: string, timeoutMs = 20_000): Promise<{ marker?: string; message?: string }> {
  let last = '';
  return waitFor(
    `${app} to answer${want ? ` with ${want}` : ''} through the router`,
    async () => {
      const res = await getVia(srv.httpPort, `${app}.localhost`);
      last = `${res.status} ${res.body.slice(0, 200)}`;
      const body = res.status === 200 ? (JSON.parse(res.body) as { marker?: string; message?: string }) : undefined;
      return body && (!want || body.marker === want) ? body : undefined;
    },
    { timeoutMs, intervalMs: 250, context: () => `last answer: ${last}` },
  );
}

const builds = async (app: string) => (await api<Build[]>(srv, 'GET', `/apps/${app}/builds`)).body;

let workA: string;

test('push an Express app: Heroku-style output, Released v1 and the URL, and the app answers through the router', async () => {
  const buildJs = fs.readFileSync(path.join(FIXTURE, 'build.js'), 'utf8');
  workA = await repoOf({
    'server.js': server('v1'),
    'build.js': `${buildJs}console.log('env: SOURCE_VERSION=' + process.env.SOURCE_VERSION + ' STACK=' + process.env.STACK);\n`,
  });
  const r = await git(['push', gitUrl(srv, appA), 'main'], workA);
  const out = r.stderr;
  assert.equal(r.code, 0, out);
  assert.match(out, /remote: -----> Building on the bookworm stack/);
  assert.match(out, /remote: -----> Launching\.\.\./);
  assert.match(out, /remote:        Released v1\b/);
  assert.match(out, new RegExp(`remote:        http://${appA}\\.localhost:${srv.httpPort}/ deployed to Slipway`));
  assert.ok(
    out.indexOf('Building on') < out.indexOf('Launching...') &&
      out.indexOf('Launching...') < out.indexOf('Released v1'),
    out,
  );
  assert.match(out, /\* \[new branch\]\s+main -> main/);
  const head = (await git(['rev-parse', 'HEAD'], workA)).stdout.trim();
  assert.match(out, new RegExp(`env: SOURCE_VERSION=${head} STACK=bookworm`));
  const body = await answer(appA, 'v1');
  assert.equal(body.message, 'hello from express');

  const [b] = await builds(appA);
  assert.equal(b.status, 'succeeded');
  assert.equal(b.release, 1);
  assert.equal(b.sourceVersion, (await git(['rev-parse', 'HEAD'], workA)).stdout.trim());
  assert.match(b.imageDigest ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.ok(
    b.buildpacks.some((bp) => /node/.test(bp.id)),
    JSON.stringify(b.buildpacks),
  );
  const log = await api<string>(srv, 'GET', `/apps/${appA}/builds/${b.id}/output`);
  assert.match(log.body, /-----> Building on the bookworm stack[\s\S]*Released v1/);

  // A user with read rights can clone what was deployed.
  const clone = `${workA}-clone`;
  dirs.push(clone);
  const c = await git(['clone', '-q', gitUrl(srv, appA), clone]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(fs.readFileSync(path.join(clone, 'server.js'), 'utf8'), server('v1'));
});

test('a push whose build fails is rejected, the ref stays, and the previous release keeps answering', async () => {
  const before = await remoteHead(srv, appA);
  await commitFile(workA, 'build.js', "console.error('intentional build failure'); process.exit(3);\n");
  await commitFile(workA, 'server.js', server('broken'));
  const r = await git(['push', gitUrl(srv, appA), 'main'], workA);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /remote: .*intentional build failure/);
  assert.match(r.stderr, /! \[remote rejected\] main -> main \(pre-receive hook declined\)/);
  assert.equal(await remoteHead(srv, appA), before);
  assert.equal((await answer(appA)).marker, 'v1');
  const [b] = await builds(appA);
  assert.equal(b.status, 'failed');
  assert.ok(b.error, 'the failure is recorded');
  // Back to a good tree for the next tests (a force push rewriting the failed commits away).
  await git(['reset', '-q', '--hard', before], workA);
});

test('a failing release phase rejects the push: ref unchanged, previous release still answers', async () => {
  const before = await remoteHead(srv, appA);
  await commitFile(workA, 'Procfile', 'web: node server.js\nrelease: echo running the release phase && exit 7\n');
  await commitFile(workA, 'server.js', server('release-failed'));
  const r = await git(['push', gitUrl(srv, appA), 'main'], workA);
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /remote: -----> Launching\.\.\./);
  assert.match(r.stderr, /remote: .*running the release phase/);
  assert.match(r.stderr, /remote:  !     .*(release|v2)/i);
  assert.match(r.stderr, /! \[remote rejected\] main -> main \(pre-receive hook declined\)/);
  assert.doesNotMatch(r.stderr, /deployed to Slipway/);
  assert.equal(await remoteHead(srv, appA), before);
  assert.equal((await answer(appA)).marker, 'v1');
  const [b] = await builds(appA);
  assert.equal(b.status, 'failed');
  await git(['reset', '-q', '--hard', before], workA);
});

test('slipway builds:cancel stops a running build and rejects its push', async () => {
  const before = await remoteHead(srv, appA);
  await commitFile(workA, 'build.js', slowBuild(120, 'cancelme'));
  const p = spawnGit(['push', gitUrl(srv, appA), 'main'], workA);
  await waitFor('the build to print', async () => (/still building cancelme 1/.test(p.output()) ? true : undefined), {
    timeoutMs: 240_000,
    context: p.output,
  });
  const cli = await run(
    process.execPath,
    [path.join(__dirname, '..', '..', 'cli', 'main.js'), 'builds:cancel', '-a', appA],
    { env: srv.cliEnv() },
  );
  assert.match(cli.stdout, /Cancelling build \S+ of .*done/);
  assert.notEqual(await p.done, 0);
  assert.match(p.output(), /remote:  !     build cancelled by admin@example\.com/);
  assert.match(p.output(), /pre-receive hook declined/);
  const [b] = await builds(appA);
  assert.equal(b.status, 'cancelled');
  assert.equal(await remoteHead(srv, appA), before);
  const again = await api(srv, 'POST', `/apps/${appA}/builds/${b.id}/cancel`);
  assert.equal(again.status, 409);
  await git(['reset', '-q', '--hard', before], workA);
});

test('two pushes to one app serialise with a message; two apps build side by side', async () => {
  // Push 1 to main (slow build), push 2 to master (the other default deploy branch) of the same app,
  // and a push of another app at the same time.
  const sha1 = await commitFile(workA, 'build.js', slowBuild(6, 'one'));
  const other = await repoOf({ 'server.js': server('b1') });
  const second = await repoOf({ 'server.js': server('v2-master'), 'build.js': slowBuild(1, 'two') });
  const p1 = spawnGit(['push', gitUrl(srv, appA), 'main'], workA);
  await waitFor('push 1 to start building', async () => (/still building one/.test(p1.output()) ? true : undefined), {
    timeoutMs: 240_000,
    context: p1.output,
  });
  const p2 = spawnGit(['push', '--force', gitUrl(srv, appA), 'main:master'], second);
  const pb = spawnGit(['push', gitUrl(srv, appB), 'main'], other);
  const [c1, c2, cb] = await Promise.all([p1.done, p2.done, pb.done]);
  assert.equal(c1, 0, p1.output());
  assert.equal(c2, 0, p2.output());
  assert.equal(cb, 0, pb.output());
  assert.match(p2.output(), new RegExp(`remote: -----> Waiting for build of ${sha1.slice(0, 7)} to finish`, 'i'));
  assert.doesNotMatch(pb.output(), /Waiting for/i);

  const [b2, b1] = await builds(appA);
  assert.equal(b1.sourceVersion, sha1);
  assert.ok(
    Date.parse(b2.startedAt!) >= Date.parse(b1.finishedAt!),
    `second build started ${b2.startedAt}, first finished ${b1.finishedAt}`,
  );
  const [bb] = await builds(appB);
  assert.ok(
    Date.parse(bb.startedAt!) < Date.parse(b1.finishedAt!) && Date.parse(b1.startedAt!) < Date.parse(bb.finishedAt!),
    'the other app built during the first build',
  );
  await answer(appB, 'b1');
  await answer(appA, 'v2-master');
});

test('a client killed mid-build cancels the build: container removed, no release, ref unchanged; the next push works', async () => {
  const before = await remoteHead(srv, appA);
  const serving = (await answer(appA)).marker;
  const releasesBefore = (await api<unknown[]>(srv, 'GET', `/apps/${appA}/releases`)).body.length;
  await commitFile(workA, 'build.js', slowBuild(120, 'killme'));
  const p = spawnGit(['push', gitUrl(srv, appA), 'main'], workA);
  await waitFor('the build to print', async () => (/still building killme 2/.test(p.output()) ? true : undefined), {
    timeoutMs: 240_000,
    context: p.output,
  });
  const [running] = await builds(appA);
  assert.equal(running.status, 'running');
  // builds:output of a running build: the log so far, then live lines as they come.
  const ac = new AbortController();
  const live = await fetch(`${srv.url}/api/apps/${appA}/builds/${running.id}/output`, {
    headers: { authorization: `Bearer ${srv.token}` },
    signal: ac.signal,
  });
  assert.equal(live.headers.get('x-slipway-build-status'), 'running');
  let streamed = '';
  const reader = live.body!.getReader();
  while (!/still building killme 5/.test(streamed)) {
    const { value, done } = await reader.read();
    if (done) break;
    streamed += Buffer.from(value).toString();
  }
  ac.abort();
  assert.match(
    streamed,
    /-----> Building on the bookworm stack[\s\S]*still building killme 1\n[\s\S]*still building killme 5/,
  );
  p.kill(); // like Ctrl-C: the whole process group (git and its git-remote-http helper)
  await p.done;

  const b = await waitFor(
    'the build to be cancelled',
    async () => {
      const found = (await builds(appA)).find((x) => x.id === running.id);
      return found && found.status !== 'running' ? found : undefined;
    },
    { timeoutMs: 30_000 },
  );
  assert.equal(b.status, 'cancelled');
  const { stdout } = await run('docker', [
    'ps',
    '-aq',
    '--filter',
    `label=io.slipway.home=${srv.home}`,
    '--filter',
    `label=io.slipway.build=${b.id}`,
  ]);
  assert.equal(stdout.trim(), '', 'no build container left');
  assert.equal(await remoteHead(srv, appA), before);
  assert.equal((await api<unknown[]>(srv, 'GET', `/apps/${appA}/releases`)).body.length, releasesBefore);
  assert.equal((await answer(appA)).marker, serving);

  await commitFile(workA, 'build.js', slowBuild(0.5, 'after'));
  await commitFile(workA, 'server.js', server('after-kill'));
  const r = await git(['push', gitUrl(srv, appA), 'main'], workA);
  assert.equal(r.code, 0, r.stderr);
  await answer(appA, 'after-kill');
});

test('a repository with a 50 MB history force-pushes and deploys', async () => {
  const big = await repoOf({ 'server.js': server('big') });
  // 50 MB of incompressible blobs in earlier commits, gone from the tree that is built.
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(big, `blob-${i}.bin`), randomBytes(10 * 1024 * 1024));
  await git(['add', '-A'], big);
  await git(['commit', '-qm', 'big blobs'], big);
  await git(['rm', '-q', 'blob-*.bin'], big);
  await git(['commit', '-qm', 'drop the blobs'], big);
  const started = Date.now();
  const r = await git(['push', '--force', gitUrl(srv, appA), 'main'], big);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\+ [0-9a-f]+\.\.\.[0-9a-f]+ main -> main \(forced update\)/);
  await answer(appA, 'big');
  console.log(`# 50 MB history push + deploy: ${Date.now() - started} ms`);
});

test('a server crash mid-build: after the restart the build is marked failed and its container is gone', async () => {
  const before = await remoteHead(srv, appA);
  const head = await commitFile(workA, 'build.js', slowBuild(120, 'crash'));
  // --force: the 50 MB test replaced main with an unrelated history.
  const p = spawnGit(['push', '--force', gitUrl(srv, appA), 'main'], workA);
  await waitFor('the build to print', async () => (/still building crash 2/.test(p.output()) ? true : undefined), {
    timeoutMs: 240_000,
    context: p.output,
  });
  const [running] = await builds(appA);
  assert.equal(running.sourceVersion, head);
  const pid = Number(fs.readFileSync(path.join(srv.paths.run, 'test-server.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  assert.notEqual(await p.done, 0);

  const again = spawn(process.execPath, [path.join(DIST, 'server', 'main.js')], { env: srv.env, stdio: 'ignore' });
  try {
    await waitFor(
      'the restarted server',
      async () => ((await fetch(`${srv.url}/healthz`).catch(() => undefined))?.ok ? true : undefined),
      { timeoutMs: 30_000 },
    );
    const b = (await builds(appA)).find((x) => x.id === running.id)!;
    assert.equal(b.status, 'failed');
    assert.match(b.error ?? '', /server stopped/);
    const { stdout } = await run('docker', [
      'ps',
      '-aq',
      '--filter',
      `label=io.slipway.home=${srv.home}`,
      '--filter',
      `label=io.slipway.build=${b.id}`,
    ]);
    assert.equal(stdout.trim(), '', 'the build container is removed');
    assert.equal(await remoteHead(srv, appA), before);
  } finally {
    again.kill('SIGTERM');
    await new Promise((r) => again.once('exit', r));
  }
});
