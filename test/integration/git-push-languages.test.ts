import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server';
import { buildGem, TINYEXT, TINYRACK } from '../helpers/package-sources';
import { api, createApp, getVia, git, gitUrl, makeRepo, startRouter, uniq } from './git-helpers';

/**
 * A real `git push` per language (real lifecycle in Docker, runtime, router), and Heroku's
 * buildpack names as Dokku's test apps use them. One server for the file; the apps are built one
 * after another. Package sources are local (rubygems.org and packagist are unreachable here).
 */
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'apps');
const HEROKU_NODE = 'https://github.com/heroku/heroku-buildpack-nodejs';

let srv: TestServer;
let stopRouter: (() => Promise<void>) | undefined;
const dirs: string[] = [];

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BUILD_TIMEOUT_S: '900' } });
  stopRouter = await startRouter(srv);
});

after(async () => {
  await stopRouter?.();
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function repo(
  fixture: string,
  files: Record<string, string> = {},
  prepare?: (dir: string) => void,
): Promise<string> {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-lang-'));
  dirs.push(src);
  fs.cpSync(path.join(FIXTURES, fixture), src, { recursive: true });
  prepare?.(src);
  const dir = await makeRepo(files, src);
  dirs.push(dir);
  return dir;
}

async function answer(app: string, want: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await getVia(srv.httpPort, `${app}.localhost`);
      last = `${r.status} ${r.body.slice(0, 300)}`;
      if (r.status === 200 && want.test(r.body)) return r.body;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${app} did not answer ${want} through the router: ${last}`);
}

async function push(app: string, dir: string) {
  const r = await git(['push', gitUrl(srv, app), 'main'], dir, 900_000);
  return { ...r, output: r.stdout + r.stderr };
}

test("Dokku's Node test app: app.json names Heroku's buildpack URL, slipway/nodejs builds it and says so", async () => {
  const app = uniq('dokku-node');
  await createApp(srv, app);
  const dir = await repo('node-express', {
    'app.json': JSON.stringify({ name: 'nodejs-express', buildpacks: [{ url: HEROKU_NODE }] }, null, 2),
  });
  const r = await push(app, dir);
  assert.equal(r.code, 0, r.output);
  assert.equal(
    r.output.split('\n').filter((l) => l.includes(`${HEROKU_NODE} is provided by slipway/nodejs`)).length,
    1,
    r.output,
  );
  assert.doesNotMatch(r.output, /could not fetch|was refused/);
  const builds = (await api<Array<{ buildpacks: Array<{ id: string }> }>>(srv, 'GET', `/apps/${app}/builds`)).body;
  assert.ok(
    builds[0].buildpacks.some((b) => b.id === 'slipway/nodejs'),
    JSON.stringify(builds[0].buildpacks),
  );
  await answer(app, /hello from express/);
});

test('BUILDPACK_ALIASES=0 on the app: the push tries to fetch the Heroku URL itself (and GitHub is unreachable)', async () => {
  const app = uniq('noalias');
  await createApp(srv, app);
  assert.equal((await api(srv, 'PATCH', `/apps/${app}/config`, { BUILDPACK_ALIASES: '0' })).status, 200);
  const dir = await repo('node-express', { 'app.json': JSON.stringify({ buildpacks: [{ url: HEROKU_NODE }] }) });
  const r = await push(app, dir);
  assert.notEqual(r.code, 0, r.output);
  // The fetcher tried the URL itself: GitHub's name does not resolve here.
  assert.match(
    r.output,
    new RegExp(`(could not fetch buildpack |buildpack URL ")${HEROKU_NODE.replace(/[./]/g, '\\$&')}`),
  );
  assert.doesNotMatch(r.output, /is provided by/);
});

test('buildpacks:set heroku/ruby shows the built-in buildpack; a Rack app with gems from vendor/cache deploys', async () => {
  const app = uniq('ruby');
  await createApp(srv, app);
  const set = await api<Array<{ url: string; providedBy?: string }>>(srv, 'PUT', `/apps/${app}/buildpacks`, {
    buildpacks: ['heroku/ruby'],
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual(set.body, [{ index: 1, url: 'heroku/ruby', providedBy: 'slipway/ruby' }]);
  const dir = await repo('ruby-rack', {}, (d) => {
    buildGem(path.join(d, 'vendor', 'cache'), TINYRACK);
    buildGem(path.join(d, 'vendor', 'cache'), TINYEXT);
  });
  const r = await push(app, dir);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /heroku\/ruby is provided by slipway\/ruby/);
  assert.match(r.output, /Installing tinyext 0\.1\.0 with native extensions/);
  assert.equal(await answer(app, /hello from ruby/), 'hello from ruby 3.1.2 (production), compiled-in-c');
});

test('a composer app (path repository, ext-bcmath) deploys behind nginx + php-fpm', async () => {
  const app = uniq('php');
  await createApp(srv, app);
  const r = await push(app, await repo('php-composer'));
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /Installing slipway\/greeter \(1\.2\.0\)/);
  await answer(app, /^hello slim-style app from the greeter package, bcadd=3\.75, php 8\.2\.\d+$/m);
});

test('a Maven project deploys as a runnable jar on the JRE, with the heap sized from the dyno memory', async () => {
  const app = uniq('java');
  await createApp(srv, app);
  const r = await push(app, await repo('java-maven'));
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /Default web process: java \$JAVA_OPTS -jar target\/hello-1\.0\.jar/);
  const body = await answer(app, /hello from java 17/, 60_000);
  // The default dyno is 512 MB: 60% of it (a JVM on its own would take 25%).
  const heap = Number(/max heap (\d+) MB/.exec(body)?.[1]);
  assert.ok(heap > 256 && heap <= 310, body);
});
