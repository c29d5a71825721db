import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { api, createApp, git, gitUrl, spawnGit, startRouter, uniq } from './git-helpers';
import { answer, blobCount, cli, cliOk, dockerRepo, push } from './dockerfile-helpers';

/**
 * Dockerfile builds through a real `git push` to a real server (Docker engine build, image copied
 * into the store, released, served through the real router) and the real CLI. Base images are the
 * locally built stack images only (offline).
 */
const run = promisify(execFile);
let srv: TestServer;
let stopRouter: (() => Promise<void>) | undefined;
const dirs: string[] = [];

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BUILD_TIMEOUT_S: '600' } });
  stopRouter = await startRouter(srv);
});
after(async () => {
  await stopRouter?.();
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const DOCKERFILE_A = (extra = '') => `FROM slipway/bookworm-run:latest
ARG GREETING=unset
USER root
RUN mkdir -p /srv && echo "greeting=$GREETING secret=\${SECRET_X:-none}" > /srv/info
COPY server.pl /srv/server.pl
COPY late.txt /srv/late.txt
${extra}USER 1000:1000
EXPOSE 8080/tcp 9090
CMD ["perl", "/srv/server.pl", "exec-form"]
`;

const appA = uniq('dfa');
let repoA: string;

test('a Dockerfile app: built by the engine, EXPOSE port, exec-form CMD, declared build arg only, served through the router', async () => {
  await createApp(srv, appA);
  // package.json too: a buildpack app as well; the push says the Dockerfile won and how to change it.
  repoA = await dockerRepo(
    {
      Dockerfile: DOCKERFILE_A(),
      'late.txt': 'one\n',
      'package.json': '{"name":"x"}\n',
      '.dockerignore': 'secret.txt\n',
      'secret.txt': 'do-not-send\n',
    },
    dirs,
  );
  await cliOk(
    srv,
    ['config:set', '--build-arg', 'GREETING=hi-from-arg', 'SECRET_X=undeclared-value', '-a', appA],
    repoA,
  );

  const r = await push(srv, appA, repoA);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /-----> Building with the Dockerfile/);
  assert.match(r.out, /Found Dockerfile and package\.json: the Dockerfile wins/);
  assert.match(r.out, /slipway builder:set buildpacks -a/);
  assert.match(r.out, /Step \d+\/\d+ : RUN mkdir/);
  assert.match(r.out, /Build args: GREETING\b/);
  assert.match(r.out, /Not passed \(no ARG in the Dockerfile\): SECRET_X/);
  assert.doesNotMatch(r.out, /undeclared-value|were not consumed/);
  assert.match(r.out, /web on port 8080, from EXPOSE/);
  assert.match(r.out, /Released v\d+/);

  const body = await answer(srv, appA, 'name=exec-form');
  assert.match(body, /port=8080 /);
  assert.match(body, /uid=1000 /);
  assert.match(body, /greeting=hi-from-arg secret=none/);

  // The undeclared arg never reached the engine: the image history names only GREETING.
  const hist = await run('docker', [
    'history',
    '--no-trunc',
    '--format',
    '{{.CreatedBy}}',
    `slipway-build/${appA}:latest`,
  ]);
  assert.match(hist.stdout, /GREETING=hi-from-arg/);
  assert.doesNotMatch(hist.stdout, /SECRET_X=|undeclared-value/);
  // .dockerignore'd files were not in the context.
  const ls = await run('docker', ['run', '--rm', `slipway-build/${appA}:latest`, 'ls', '/srv']);
  assert.doesNotMatch(ls.stdout, /secret/);

  const info = await cliOk(srv, ['apps:info', '-a', appA]);
  assert.match(info, /Builder:\s+auto/);
  assert.match(info, /Runs as:\s+1000:1000\n/);
  const b = await cliOk(srv, ['builder', '-a', appA]);
  assert.match(b, /Build args:\s+GREETING, SECRET_X/);
  assert.match(b, /Last build:\s+dockerfile/);
});

test('a rebuild with one changed file reuses the cached layers and writes few new blobs', async () => {
  const before = blobCount(srv);
  fs.writeFileSync(path.join(repoA, 'late.txt'), 'two\n');
  await git(['commit', '-qam', 'change late.txt'], repoA);
  const r = await push(srv, appA, repoA);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /RUN mkdir[^\n]*\n(?:[^\n]*\n)*?[^\n]*Using cache/);
  // A changed COPY layer and the layers after it, the config and the manifest: not the base image again.
  const added = blobCount(srv) - before;
  assert.ok(added > 0 && added <= 8, `new blobs: ${added}`);
  await answer(srv, appA, 'name=exec-form');
});

test('a failing RUN rejects the push and the previous release keeps serving', async () => {
  fs.writeFileSync(path.join(repoA, 'Dockerfile'), DOCKERFILE_A('RUN echo about to fail && exit 3\n'));
  await git(['commit', '-qam', 'break the build'], repoA);
  const releasesBefore = (await api<unknown[]>(srv, 'GET', `/apps/${appA}/releases`)).body.length;
  const r = await push(srv, appA, repoA);
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /about to fail/);
  assert.match(
    r.out,
    /the Dockerfile build failed: The command '\/bin\/sh -c echo about to fail && exit 3' returned a non-zero code: 3/,
  );
  assert.match(r.out, /Push rejected to/);
  assert.equal((await api<unknown[]>(srv, 'GET', `/apps/${appA}/releases`)).body.length, releasesBefore);
  await answer(srv, appA, 'name=exec-form');
});

const appB = uniq('dfb');

test('ENTRYPOINT with a Procfile: two process types and the release phase run through the entrypoint, as root (flagged)', async () => {
  await createApp(srv, appB);
  const dir = await dockerRepo(
    {
      Dockerfile: `FROM slipway/bookworm-run:latest
USER root
COPY server.pl /srv/server.pl
COPY entry.sh /srv/entry.sh
RUN chmod 755 /srv/entry.sh
ENTRYPOINT ["/srv/entry.sh"]
CMD ["perl", "/srv/server.pl", "image-cmd"]
`,
      'entry.sh': '#!/bin/sh\nexport FROM_ENTRY=yes\nexec "$@"\n',
      Procfile:
        'web: perl /srv/server.pl procfile-web\nworker: echo "worker started FROM_ENTRY=$FROM_ENTRY DYNO=$DYNO" && sleep 600\nrelease: echo "release phase ran FROM_ENTRY=$FROM_ENTRY uid=$(id -u)"\n',
    },
    dirs,
  );
  const r = await push(srv, appB, dir);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Process types: web, worker/);
  assert.match(r.out, /The image runs as root/);
  assert.match(r.out, /release phase ran FROM_ENTRY=yes uid=0/);
  const body = await answer(srv, appB, 'name=procfile-web');
  assert.match(body, /port=5000 uid=0 entry=yes/);

  await cliOk(srv, ['ps:scale', 'worker=1', '-a', appB]);
  const logs = await waitFor(
    'the worker dyno printing through the entrypoint',
    async () => {
      const out = (await cli(srv, ['logs', '-n', '200', '-a', appB])).out;
      return /worker started FROM_ENTRY=yes DYNO=worker\.1/.test(out) ? out : undefined;
    },
    { intervalMs: 500 },
  );
  assert.match(logs, /worker started FROM_ENTRY=yes DYNO=worker\.1/);
  const info = await cliOk(srv, ['apps:info', '-a', appB]);
  assert.match(info, /Runs as:\s+root \(root: add a USER to the Dockerfile\)/);
  // A one-off runs through the entrypoint too.
  const one = await cliOk(srv, ['run', '-a', appB, '--', 'echo one-off FROM_ENTRY=$FROM_ENTRY']);
  assert.match(one, /one-off FROM_ENTRY=yes/);
});

const appC = uniq('dfc');

test('builder:set forces buildpacks, then the Dockerfile (shell-form CMD); rollback goes between the two kinds', async () => {
  await createApp(srv, appC);
  const dir = await dockerRepo(
    {
      Dockerfile:
        'FROM slipway/bookworm-run:latest\nCOPY server.pl /app/server.pl\nCMD perl /app/server.pl shell-form\n',
      Procfile: 'web: perl server.pl buildpack-web\n',
    },
    dirs,
  );
  const set = await cliOk(srv, ['builder:set', 'buildpacks', '-a', appC]);
  assert.match(set, /Builder:\s+buildpacks \(forced\)/);
  const r1 = await push(srv, appC, dir);
  assert.equal(r1.code, 0, r1.out);
  assert.match(r1.out, /Building on the bookworm stack/);
  await answer(srv, appC, 'name=buildpack-web');

  await git(['rm', '-q', 'Procfile'], dir);
  await git(['commit', '-qm', 'no Procfile: the image CMD is web'], dir);
  await cliOk(srv, ['builder:set', 'dockerfile', '-a', appC]);
  const r2 = await push(srv, appC, dir);
  assert.equal(r2.code, 0, r2.out);
  assert.match(r2.out, /Building with the Dockerfile/);
  await answer(srv, appC, 'name=shell-form');

  const releases = (await api<Array<{ version: number; description: string }>>(srv, 'GET', `/apps/${appC}/releases`))
    .body;
  const deploys = releases
    .filter((x) => x.description.startsWith('Deploy'))
    .map((x) => x.version)
    .sort((a, b) => a - b);
  await cliOk(srv, ['releases:rollback', `v${deploys[0]}`, '-a', appC]);
  await answer(srv, appC, 'name=buildpack-web');
  await cliOk(srv, ['releases:rollback', `v${deploys[1]}`, '-a', appC]);
  await answer(srv, appC, 'name=shell-form');
});

test('a client killed during a RUN step cancels the Dockerfile build: the engine stops it, no release, the old one serves', async () => {
  const marker = `cancel-marker-${process.pid}`;
  fs.writeFileSync(path.join(repoA, 'Dockerfile'), DOCKERFILE_A(`RUN echo ${marker} && sleep 300\n`));
  await git(['commit', '-qam', 'a long RUN step'], repoA);
  const releasesBefore = (await api<unknown[]>(srv, 'GET', `/apps/${appA}/releases`)).body.length;
  const p = spawnGit(['push', '-f', gitUrl(srv, appA), 'HEAD:main'], repoA);
  // The step's own output (not its "Step N/M : RUN ..." header): its container runs.
  await waitFor('the RUN step to start', () => new RegExp(`remote:\\s+${marker}\\s*$`, 'm').test(p.output()), {
    timeoutMs: 120_000,
    context: p.output,
  });
  p.kill();
  const b = await waitFor('the build to be cancelled', async () => {
    const list = (await api<Array<{ status: string }>>(srv, 'GET', `/apps/${appA}/builds`)).body;
    return list[0].status === 'cancelled' ? list[0] : undefined;
  });
  assert.equal(b.status, 'cancelled');
  // The engine stopped the step: no container of it is left running.
  await waitFor(
    'the RUN container gone',
    async () => !(await run('docker', ['ps', '--no-trunc', '--format', '{{.Command}}'])).stdout.includes(marker),
    { timeoutMs: 30_000 },
  );
  assert.equal((await api<unknown[]>(srv, 'GET', `/apps/${appA}/releases`)).body.length, releasesBefore);
  await answer(srv, appA, 'name=exec-form');
});
