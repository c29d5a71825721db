import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openImageStore } from '../../buildpacks/oci/layout';
import { tmpDir } from '../helpers/home';
import { startTestServer, type TestServer } from '../helpers/server';
import { api, commitFile, createApp, getVia, git, gitUrl, makeRepo, startRouter, uniq } from './git-helpers';
import { flaskStyleApp, goStdlibApp, writeFiles } from './python-go-fixtures';

// A real `git push` of a Python app and a Go app to a real server and router, offline. The Go app
// asks for a newer Go than bookworm has: rejected, then moved to trixie with stack:set and pushed
// again. A Python app whose app.json names trixie lands there on its first deploy; the server's
// store lacks the trixie images at that point, so the build brings them in first (on-demand stack).

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

async function repo(fill: (dir: string) => void): Promise<string> {
  const src = tmpDir('slipway-lang-src-');
  dirs.push(src);
  fill(src);
  const dir = await makeRepo({}, src);
  dirs.push(dir);
  return dir;
}

async function push(app: string, dir: string): Promise<{ code: number; out: string }> {
  const r = await git(['push', gitUrl(srv, app), 'main'], dir, 900_000);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** GET / through the router, retrying until the body matches. */
async function answer(app: string, want: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const res = await getVia(srv.httpPort, `${app}.localhost`).catch((e: Error) => ({ status: 0, body: e.message }));
    last = `${res.status} ${res.body.slice(0, 200)}`;
    if (res.status === 200 && want.test(res.body)) return res.body;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${app} did not answer ${want} through the router: ${last}`);
}

test('git push of a Python app (requirements.txt + --find-links): served through the router as uid 1000; the next push reuses the venv', async () => {
  const app = uniq('py');
  await createApp(srv, app);
  const dir = await repo((d) => flaskStyleApp(d));
  const first = await push(app, dir);
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /Building on the bookworm stack/);
  assert.match(first.out, /Installing Python 3\.11\.\d+ from Debian/);
  assert.equal(await answer(app, /greeting/), 'hello flask-style app from greeting 1.0; uid 1000; python 3.11');

  await commitFile(
    dir,
    'app.py',
    fs.readFileSync(path.join(dir, 'app.py'), 'utf8').replace("'flask-style app'", "'second push'"),
  );
  const second = await push(app, dir);
  assert.equal(second.code, 0, second.out);
  assert.match(second.out, /Reusing the virtualenv: requirements\.txt and Python 3\.11\.\d+ unchanged \(no pip run\)/);
  assert.match(await answer(app, /second push/), /^hello second push from greeting 1\.0; uid 1000/);
});

test('git push of a Go app needing Go 1.22: rejected on bookworm naming trixie; after stack:set trixie the next push builds with Go 1.24 and serves', async () => {
  const app = uniq('go');
  await createApp(srv, app);
  const dir = await repo((d) => goStdlibApp(d, '1.22', 'hello from go 1.22'));
  const rejected = await push(app, dir);
  assert.notEqual(rejected.code, 0);
  assert.match(rejected.out, /go\.mod needs Go 1\.22 \(its go line\), and the bookworm stack has Go 1\.19/);
  assert.match(rejected.out, /slipway stack:set trixie -a APP/);
  assert.match(rejected.out, /Push rejected/);

  const set = await api<{ stack: string; previous: string }>(srv, 'PUT', `/apps/${app}/stack`, { stack: 'trixie' });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual([set.body.stack, set.body.previous], ['trixie', 'bookworm']);
  const unknown = await api<{ error: { message: string; hint: string } }>(srv, 'PUT', `/apps/${app}/stack`, {
    stack: 'jessie',
  });
  assert.equal(unknown.status, 404);
  assert.match(JSON.stringify(unknown.body), /bookworm, trixie/);

  await commitFile(dir, 'README', 'moved to trixie\n');
  const built = await push(app, dir);
  assert.equal(built.code, 0, built.out);
  assert.match(built.out, /Building on the trixie stack/);
  assert.match(built.out, /Installing Go from Debian: golang-1\.24-go/);
  assert.equal(await answer(app, /go 1\.22/), 'hello from go 1.22; uid 1000');

  const stacks = (await api<Array<{ name: string; apps: string[] }>>(srv, 'GET', '/stacks')).body;
  assert.ok(stacks.find((s) => s.name === 'trixie')!.apps.includes(app), JSON.stringify(stacks));
  assert.ok(!stacks.find((s) => s.name === 'bookworm')!.apps.includes(app));
});

test('app.json "stack" is honoured on the first deploy; a stack missing from the server is brought in by the build, with progress in the push output', async () => {
  // The server's store forgets trixie: the push must bring it back (from the machine-wide stack cache).
  const store = openImageStore(srv.paths.images);
  for (const t of await store.listTags()) if (t.ref.startsWith('stacks/trixie-')) await store.untag(t.ref);
  const app = uniq('py-trixie');
  await createApp(srv, app);
  const dir = await repo((d) => {
    flaskStyleApp(d);
    writeFiles(d, { 'app.json': JSON.stringify({ name: 'py-trixie', stack: 'trixie' }), '.python-version': '3.13\n' });
  });
  const r = await push(app, dir);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Using the trixie stack from app\.json \(first deploy\)/);
  assert.match(r.out, /The trixie stack is not on this server yet: building it/);
  assert.match(r.out, /Stack trixie ready in \d+s/);
  assert.match(r.out, /Installing Python 3\.13\.\d+ from Debian \(\.python-version\)/);
  assert.equal(await answer(app, /greeting/), 'hello flask-style app from greeting 1.0; uid 1000; python 3.13');
  assert.equal((await api<{ stack: string }>(srv, 'GET', `/apps/${app}`)).body.stack, 'trixie');
});
