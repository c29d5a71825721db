import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server';
import { api, createApp, createUser, git, gitUrl, listTree, makeRepo, remoteHead, uniq } from './git-helpers';

/**
 * The git endpoint's front door, against a real server with the real git CLI: who may fetch and
 * push, what an unknown app or a hostile URL gets, and what a non-deploy branch gets. (Pushes that
 * build and deploy are in git-push.test.ts.)
 */
let srv: TestServer;
const app = uniq('gitauth');
let viewerToken: string;
let outsiderToken: string;
let work: string;

before(async () => {
  srv = await startTestServer({ seedStacks: false });
  await createApp(srv, app);
  viewerToken = await createUser(srv, `viewer-${app}@example.com`);
  outsiderToken = await createUser(srv, `outsider-${app}@example.com`);
  const r = await api(srv, 'POST', `/apps/${app}/collaborators`, {
    email: `viewer-${app}@example.com`,
    role: 'viewer',
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  work = await makeRepo({ 'README.md': '# hello\n' });
});

after(async () => {
  await srv?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A raw HTTP request, so the path reaches the server exactly as written (no URL normalising). */
function rawRequest(
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(srv.apiPort, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    sock.on('error', reject);
    sock.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0);
      resolve({ status, text: data });
    });
    const h = Object.entries({ host: '127.0.0.1', connection: 'close', 'content-length': '0', ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    sock.write(`${method} ${target} HTTP/1.1\r\n${h}\r\n`);
  });
}

const basic = (token: string) => `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`;

test('no token or a wrong token gets 401 with a Basic challenge; git says authentication failed', async () => {
  const none = await fetch(`${srv.url}/${app}.git/info/refs?service=git-upload-pack`);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Basic /);
  const wrong = await fetch(`${srv.url}/${app}.git/info/refs?service=git-receive-pack`, {
    headers: { authorization: basic('slw_not-a-real-token') },
  });
  assert.equal(wrong.status, 401);
  const r = await git(['ls-remote', gitUrl(srv, app, 'slw_wrong')]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Authentication failed/);
});

test('a viewer may clone but not push (403); a user without access may do neither', async () => {
  const clone = path.join(work, '..', `${path.basename(work)}-clone`);
  try {
    const c = await git(['clone', '-q', gitUrl(srv, app, viewerToken), clone]);
    assert.equal(c.code, 0, c.stderr);
    const p = await git(['push', gitUrl(srv, app, viewerToken), 'main'], work);
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /403/);
    assert.match(p.stderr, /viewer/);
    const o = await git(['ls-remote', gitUrl(srv, app, outsiderToken)]);
    assert.notEqual(o.code, 0);
    assert.match(o.stderr, /403/);
    assert.equal(await remoteHead(srv, app), '', 'nothing was pushed');
  } finally {
    fs.rmSync(clone, { recursive: true, force: true });
  }
});

test('an unknown app answers 404 with the hint to create it, and nothing appears on disk', async () => {
  const before = listTree(srv.paths.repos);
  const missing = uniq('nosuch');
  const r = await git(['push', gitUrl(srv, missing), 'main'], work);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /does not exist/);
  assert.match(r.stderr, new RegExp(`slipway apps:create ${missing}`));
  const res = await fetch(`${srv.url}/${missing}.git/info/refs?service=git-receive-pack`, {
    headers: { authorization: basic(srv.token) },
  });
  assert.equal(res.status, 404);
  assert.deepEqual(listTree(srv.paths.repos), before);
});

test('path traversal and malformed repository paths are refused and create nothing', async () => {
  const before = listTree(srv.paths.repos);
  const outside = path.join(srv.home, 'evil.git');
  const attempts = [
    `/../evil.git/info/refs?service=git-receive-pack`,
    `/%2e%2e/evil.git/info/refs?service=git-receive-pack`,
    `/%2e%2e%2fevil.git/info/refs?service=git-receive-pack`,
    `/..%2f..%2fevil.git/info/refs?service=git-upload-pack`,
    `/${encodeURIComponent(outside)}/info/refs?service=git-receive-pack`,
    `/${outside}/info/refs?service=git-receive-pack`,
    `//tmp/evil.git/info/refs?service=git-receive-pack`,
    `/nested/${app}.git/info/refs?service=git-upload-pack`,
    `/${app}.git/../${app}.git/info/refs?service=git-upload-pack`,
    `/${app}.git/HEAD`,
    `/${app}.git/objects/info/packs`,
    `/UPPER.git/info/refs?service=git-upload-pack`,
    `/${app}.git/info/refs?service=git-shell`,
  ];
  for (const target of attempts) {
    for (const method of ['GET', 'POST']) {
      const r = await rawRequest(method, target, { authorization: basic(srv.token) });
      assert.ok([400, 404, 405].includes(r.status), `${method} ${target} → ${r.status}`);
    }
  }
  const post = await rawRequest('POST', `/../evil.git/git-receive-pack`, {
    authorization: basic(srv.token),
    'content-type': 'application/x-git-receive-pack-request',
  });
  assert.ok([400, 404].includes(post.status));
  assert.deepEqual(listTree(srv.paths.repos), before);
  assert.equal(fs.existsSync(outside), false);
  assert.equal(fs.existsSync('/tmp/evil.git'), false);
});

test('pushing a branch other than the deploy branch is refused, naming the deploy branch', async () => {
  const r = await git(['push', gitUrl(srv, app), 'main:feature'], work);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /remote: .*this app deploys from main or master only/);
  assert.match(r.stderr, /\[remote rejected\] main -> feature \(pre-receive hook declined\)/);
  assert.equal(await remoteHead(srv, app, 'feature'), '');
});

test('the git endpoint answers over HTTPS with the platform certificate: auth, ls-remote, push through the hook', async () => {
  const port = Number(srv.env.SLIPWAY_API_HTTPS_PORT);
  const cert = path.join(srv.home, 'run', 'certs', 'platform.crt');
  assert.ok(fs.existsSync(cert), 'the server made the platform certificate');
  // The certificate covers the platform domain (localhost here); git checks it against a CA file
  // (GIT_SSL_CAINFO, which wins over http.sslCAInfo and is set on this machine for the proxy CA).
  const url = (token: string) => `https://slipway:${encodeURIComponent(token)}@localhost:${port}/${app}.git`;
  const gitTls = (args: string[], caFile: string) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        'git',
        ['-c', 'credential.helper=', ...args],
        { cwd: work, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_SSL_CAINFO: caFile }, timeout: 60_000 },
        (err, _out, stderr) => resolve({ code: err ? 1 : 0, stderr: String(stderr) }),
      );
    });
  const denied = await gitTls(['ls-remote', url('slw_not-a-real-token')], cert);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /Authentication failed|401/);
  const ls = await gitTls(['ls-remote', url(srv.token)], cert);
  assert.equal(ls.code, 0, ls.stderr);
  // A push over HTTPS runs the same pre-receive hook (refused here before any build: wrong branch).
  const push = await gitTls(['push', url(srv.token), 'main:feature-tls'], cert);
  assert.notEqual(push.code, 0);
  assert.match(push.stderr, /remote: .*this app deploys from main or master only/);
  // With only the system CAs, git refuses the platform's self-signed certificate: TLS is real.
  const untrusted = await gitTls(['ls-remote', url(srv.token)], '/etc/ssl/certs/ca-certificates.crt');
  assert.notEqual(untrusted.code, 0);
  assert.match(untrusted.stderr, /certificate|SSL/i);
});

test('the builds API lists nothing for a fresh app and refuses a user without access', async () => {
  const list = await api<unknown[]>(srv, 'GET', `/apps/${app}/builds`);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body, []);
  const denied = await api(srv, 'GET', `/apps/${app}/builds`, undefined, outsiderToken);
  assert.equal(denied.status, 403);
});
