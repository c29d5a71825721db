import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server';
import { api, commitFile, createApp, getVia, git, gitUrl, makeRepo, startRouter, uniq } from './git-helpers';
import { cli, WEB_PL } from './push-journey-helpers';

/**
 * Issue 14 item 4: a failing boot says which cause it saw, through real pushes of tiny apps (boot
 * timeout 5 s), the router and the real CLI against one server.
 */
let srv: TestServer;
let stopRouter: (() => Promise<void>) | undefined;
const dirs: string[] = [];
/** A loopback HTTP server the buildpack fetcher may reach (SLIPWAY_BUILDPACK_FETCH_ALLOW): always 404. */
let notFound: http.Server;
let notFoundPort = 0;

before(async () => {
  notFound = http.createServer((_req, res) => res.writeHead(404).end('no such buildpack'));
  await new Promise<void>((r) => notFound.listen(0, '127.0.0.1', r));
  notFoundPort = (notFound.address() as AddressInfo).port;
  srv = await startTestServer({ env: { SLIPWAY_BUILDPACK_FETCH_ALLOW: `127.0.0.1:${notFoundPort}` } });
  stopRouter = await startRouter(srv);
});

after(async () => {
  notFound?.close();
  await stopRouter?.();
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Creates an app with a 5 s boot timeout and pushes files to it; returns the push's output. */
async function pushApp(
  files: Record<string, string>,
  buildpacks?: string[],
): Promise<{ app: string; code: number; out: string }> {
  const app = uniq('hint');
  await createApp(srv, app);
  assert.equal((await api(srv, 'PUT', `/apps/${app}/boot-timeout`, { seconds: 5 })).status, 200);
  if (buildpacks) assert.equal((await api(srv, 'PUT', `/apps/${app}/buildpacks`, { buildpacks })).status, 200);
  const dir = await makeRepo(files);
  dirs.push(dir);
  const r = await git(['push', gitUrl(srv, app), 'main'], dir);
  return { app, code: r.code, out: r.stderr };
}

test('command not found: said as such, with the buildpack that would handle requirements.txt; a never-released app is not "crashed" and nothing claims a previous release', async () => {
  // The buildpacks were set to Procfile alone, so nothing installs what the Procfile runs.
  const r = await pushApp(
    { Procfile: 'web: gunicorn app:app\n', 'app.py': 'app = None\n', 'requirements.txt': 'gunicorn\n' },
    ['slipway/procfile'],
  );
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /web\.1's command was not found \(exit status 127\)/);
  assert.match(r.out, /This repository has requirements\.txt \(Python\)/);
  assert.match(r.out, /Nothing is serving yet: the app has no running release/);
  assert.doesNotMatch(r.out, /previous release keeps serving/i);
  assert.doesNotMatch(r.out, /listen on \$PORT/);
  const page = await getVia(srv.httpPort, `${r.app}.localhost`);
  assert.equal(page.status, 503);
  assert.match(page.body, /not been deployed yet/);
  assert.doesNotMatch(page.body, /No web dyno of this app is accepting connections|crashed/i);
});

test('a process that exits says its exit status', async () => {
  const r = await pushApp({ Procfile: 'web: perl -e "print qq(bye\\n); exit 3"\n' });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /web\.1 exited with status 3 before it answered on \$PORT/);
});

test("bound to 127.0.0.1: seen from the dyno's listening sockets, with the fix", async () => {
  const r = await pushApp({
    Procfile: 'web: perl web.pl\n',
    'web.pl': WEB_PL.replace("LocalAddr => '0.0.0.0'", "LocalAddr => '127.0.0.1'"),
    'marker.txt': 'x',
  });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /web\.1 listens on 127\.0\.0\.1:5000, which only the container itself can reach/);
  assert.match(r.out, /bind to 0\.0\.0\.0/);
});

test('listening on another port than $PORT names both ports', async () => {
  const r = await pushApp({
    Procfile: 'web: perl web.pl\n',
    'web.pl': WEB_PL.replace('LocalPort => $ENV{PORT}', 'LocalPort => 8080'),
    'marker.txt': 'x',
  });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /web\.1 listens on port 8080, not on \$PORT \(5000\)/);
  assert.match(r.out, /read the port from the PORT environment variable/);
});

test('no response within the timeout: running, listening on nothing, with the boot-timeout command', async () => {
  const r = await pushApp({ Procfile: 'web: sleep 600\n' });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /web\.1 is running but listens on no port after 5 s/);
  assert.match(r.out, /slipway ps:boot-timeout 15/);
});

test('a worker-only app is never told to scale web; ps:scale does not claim what does not run', async () => {
  const r = await pushApp({ Procfile: 'worker: sleep 600\n' });
  assert.equal(r.code, 0, r.out);
  const page = await getVia(srv.httpPort, `${r.app}.localhost`);
  assert.equal(page.status, 503);
  assert.match(page.body, /runs no web process/);
  assert.doesNotMatch(page.body, /ps:scale web/);
  assert.equal((await cli(srv, ['ps:scale', 'worker=0', '-a', r.app])).code, 0);
  const ps = await cli(srv, ['ps', '-a', r.app]);
  assert.match(ps.stdout, /Scale up with: slipway ps:scale worker=1/);

  // A worker that cannot run is not reported as running.
  const crash = await pushApp({ Procfile: 'worker: perl -e "exit 2"\n' });
  assert.equal(crash.code, 0, crash.out);
  await new Promise((res) => setTimeout(res, 2000));
  const scaled = await cli(srv, ['ps:scale', 'worker=1', '-a', crash.app]);
  assert.doesNotMatch(scaled.stdout, /now running worker at 1/);

  // Before the first release, the formation is only recorded, and the CLI says so.
  const fresh = uniq('hint');
  await createApp(srv, fresh);
  const early = await cli(srv, ['ps:scale', 'web=1', '-a', fresh]);
  assert.equal(early.code, 0, early.stderr);
  assert.match(early.stdout, /Scaling recorded: web at 1 once .* is deployed; nothing runs yet/);
  assert.match((await cli(srv, ['ps', '-a', fresh])).stdout, /has not been deployed yet/);
});

test("every push says which source chose the buildpacks (recorded on the build); a fetch failure gives the fetcher's reason without credentials; buildpacks:set checks at once", async () => {
  const app = uniq('bpsrc');
  await createApp(srv, app);
  const dir = await makeRepo({ Procfile: 'web: perl web.pl\n', 'web.pl': WEB_PL, 'marker.txt': '0' });
  dirs.push(dir);
  const push = async (want: RegExp, from: string) => {
    const r = await git(['push', gitUrl(srv, app), 'main'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, want);
    const [b] = (await api<Array<{ buildpacksFrom: string }>>(srv, 'GET', `/apps/${app}/builds`)).body;
    assert.equal(b.buildpacksFrom, from);
  };
  await push(/remote: -----> Buildpacks chosen by detection/, 'detection');
  assert.equal((await cli(srv, ['config:set', 'BUILDPACK_URL=slipway/procfile', '-a', app])).code, 0);
  await commitFile(dir, 'marker.txt', '1');
  await push(/remote: -----> Buildpacks chosen by the BUILDPACK_URL config var/, 'BUILDPACK_URL');
  await commitFile(dir, '.buildpacks', 'slipway/procfile\n');
  await push(/remote: -----> Buildpacks chosen by \.buildpacks/, '.buildpacks');
  await commitFile(dir, 'app.json', JSON.stringify({ buildpacks: [{ url: 'slipway/procfile' }] }));
  await push(/remote: -----> Buildpacks chosen by app\.json/, 'app.json');
  await commitFile(dir, 'project.toml', '[[io.buildpacks.group]]\nid = "slipway/procfile"\n');
  await push(/remote: -----> Buildpacks chosen by project\.toml/, 'project.toml');

  // buildpacks:set refuses what cannot work, at once.
  const unknown = await cli(srv, ['buildpacks:set', 'slipway/nope', '-a', app]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /this platform has no buildpack slipway\/nope/);
  assert.match(unknown.stderr, /slipway\/procfile/);
  const ftp = await cli(srv, ['buildpacks:set', 'ftp://example.com/bp.tgz', '-a', app]);
  assert.notEqual(ftp.code, 0);
  assert.match(ftp.stderr, /not a buildpack URL Slipway can fetch/);
  assert.equal((await cli(srv, ['buildpacks:set', 'slipway/procfile', '-a', app])).code, 0);
  await commitFile(dir, 'marker.txt', '2');
  await push(
    /remote: -----> Buildpacks chosen by the app's buildpack list \(slipway buildpacks:set\)/,
    'buildpacks:set',
  );

  // A URL that fails to fetch: the fetcher's reason, the source named, no credentials.
  assert.equal(
    (await cli(srv, ['buildpacks:set', `http://user:s3cret@127.0.0.1:${notFoundPort}/bp.tgz`, '-a', app])).code,
    0,
  );
  await commitFile(dir, 'marker.txt', '3');
  const r = await git(['push', gitUrl(srv, app), 'main'], dir);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /could not fetch buildpack http:\/\/\*\*\*@127\.0\.0\.1:\d+\/bp\.tgz: HTTP 404/);
  assert.doesNotMatch(r.stderr, /s3cret/);
});
