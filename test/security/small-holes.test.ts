import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';

/**
 * Issue 12 item 7 on a real server through its real entry points: the CLI binary (domains, app
 * names, config caps), raw HTTP (NUL in config, slow headers, auth back-off on the API and the
 * git endpoint). One server for the file, as a non-admin user.
 */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
const NEUTRAL = tmpDir('slipway-cwd-');
let srv: TestServer;
let userEnv: NodeJS.ProcessEnv;
let userToken: string;
const APP = 'holes-app';

async function cli(args: string[], env = userEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env, cwd: NEUTRAL, timeout: 30_000, maxBuffer: 4 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** One HTTP request from a chosen loopback source address (127.0.0.x), so back-off tests stay apart. */
function request(
  method: string,
  p: string,
  opts: { token?: string; basic?: string; body?: unknown; from?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.basic) headers.authorization = `Basic ${Buffer.from(`x:${opts.basic}`).toString('base64')}`;
  if (body) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: srv.apiPort,
        method,
        path: p,
        headers,
        localAddress: opts.from ?? '127.0.0.1',
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  srv = await startTestServer({ seedStacks: false, env: { SLIPWAY_API_HEADERS_TIMEOUT_S: '1' } });
  const u = await cli(['users:create', 'tenant@example.com', '--json'], srv.cliEnv());
  assert.equal(u.code, 0, u.stderr);
  userToken = (JSON.parse(u.stdout) as { token: string }).token;
  userEnv = srv.cliEnv(userToken);
  const c = await cli(['apps:create', APP, '--no-remote']);
  assert.equal(c.code, 0, c.stderr);
});
after(async () => {
  await srv?.stop();
  fs.rmSync(NEUTRAL, { recursive: true, force: true });
});

test('custom domains refuse IP literals in every form, with a message saying so', async () => {
  for (const host of [
    '127.0.0.1',
    '127.1',
    '0x7f.0.0.1',
    '2130706433',
    '017700000001',
    '[::1]',
    '::ffff:127.0.0.1',
    '169.254.169.254',
    'www.example.0x7f',
  ]) {
    const r = await cli(['domains:add', host, '-a', APP]);
    assert.equal(r.code, 1, host);
    assert.match(r.stderr, /is an IP address, not a domain name/, host);
  }
});

test('custom domains refuse reserved names: the platform domain, localhost and local-only suffixes', async () => {
  const cases: Array<[string, RegExp]> = [
    ['localhost', /not a valid domain name/], // single labels never were domains
    ['x.localhost', /under the platform domain/], // the test platform's domain is localhost
    ['www.localdomain', /reserved name \(\.localdomain/],
    ['printer.local', /reserved name \(\.local/],
    ['metadata.google.internal', /reserved name \(\.internal/],
    ['1.0.0.127.in-addr.arpa', /reserved name \(\.arpa/],
    ['slipway-router', /not a valid domain name/],
  ];
  for (const [host, re] of cases) {
    const r = await cli(['domains:add', host, '-a', APP]);
    assert.equal(r.code, 1, host);
    assert.match(r.stderr, re, host);
  }
  const good = await cli(['domains:add', 'www.holes-example.com', '-a', APP]);
  assert.equal(good.code, 0, good.stderr);
  const list = await cli(['domains', '-a', APP, '--json']);
  assert.deepEqual(
    (JSON.parse(list.stdout) as Array<{ hostname: string }>).map((d) => d.hostname),
    [`${APP}.localhost`, 'www.holes-example.com'],
  );
});

test('app names refuse reserved words with a clear message; an app with such a name made earlier keeps working', async () => {
  for (const name of [
    'api',
    'www',
    'admin',
    'git',
    'registry',
    'dashboard',
    'status',
    'slipway-router',
    'slipway-foo',
  ]) {
    const r = await cli(['apps:create', name, '--no-remote']);
    assert.equal(r.code, 1, name);
    assert.match(r.stderr, new RegExp(`"${name}" is reserved for the platform and cannot be an app name`), name);
    assert.match(r.stderr, /choose another name/, name);
  }
  // An app that existed before the rule (made here straight in the database, as an older version would have).
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(srv.paths.db);
  const owner = db.prepare('SELECT id FROM users WHERE email = ?').get('tenant@example.com') as { id: number };
  const row = db
    .prepare("INSERT INTO apps (name, owner_id, stack) VALUES ('status', ?, 'bookworm') RETURNING id")
    .get(owner.id) as { id: number };
  db.prepare("INSERT INTO collaborators (app_id, user_id, role) VALUES (?, ?, 'owner')").run(row.id, owner.id);
  db.close();
  const info = await cli(['apps:info', '-a', 'status', '--json']);
  assert.equal(info.code, 0, info.stderr);
  assert.equal((JSON.parse(info.stdout) as { name: string }).name, 'status');
  const set = await cli(['config:set', 'A=1', '-a', 'status']);
  assert.equal(set.code, 0, set.stderr);
});

test('config values refuse NUL and are capped per value (32 KiB) and per app (256 KiB)', async () => {
  const nul = await request('PATCH', `/api/apps/${APP}/config`, { token: userToken, body: { SECRET: 'abc\u0000def' } });
  assert.equal(nul.status, 422);
  assert.match(JSON.parse(nul.body).message, /the value of SECRET contains a NUL character/);
  const big = await cli(['config:set', `BIG=${'x'.repeat(32 * 1024 + 1)}`, '-a', APP]);
  assert.equal(big.code, 1);
  assert.match(big.stderr, /the value of BIG is larger than 32 KiB/);
  const fits = await cli(['config:set', `EXACT=${'x'.repeat(32 * 1024)}`, '-a', APP]);
  assert.equal(fits.code, 0, fits.stderr);
  // Seven more values of 32 KiB: the eighth pushes the app past 256 KiB and is refused as a whole.
  const seven: Record<string, string> = {};
  for (let i = 0; i < 7; i++) seven[`V${i}`] = 'y'.repeat(32 * 1024 - 10);
  assert.equal((await request('PATCH', `/api/apps/${APP}/config`, { token: userToken, body: seven })).status, 200);
  const over = await request('PATCH', `/api/apps/${APP}/config`, {
    token: userToken,
    body: { V7: 'z'.repeat(1024), V8: 'z'.repeat(1024) },
  });
  assert.equal(over.status, 422);
  assert.match(JSON.parse(over.body).message, /more than the limit of 256 KiB per app/);
  const after = JSON.parse((await request('GET', `/api/apps/${APP}/config`, { token: userToken })).body) as Record<
    string,
    string
  >;
  assert.equal(after.V7, undefined, 'a refused update changes nothing');
  assert.equal(Object.keys(after).length, 8);
});

test('a client that sends its headers too slowly is cut off by the header timeout (408)', async () => {
  const sock = net.connect(srv.apiPort, '127.0.0.1');
  let got = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (got += d));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  // Keep dribbling a header byte now and then, like slowloris; the server must still cut us off.
  const drip = setInterval(() => sock.writable && sock.write('X'), 300);
  const closed = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 15_000);
    sock.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
  clearInterval(drip);
  sock.destroy();
  assert.ok(closed, 'the server kept a connection whose headers never ended');
  assert.match(got, /^HTTP\/1\.1 408/);
});

test('repeated failed authentication backs off with 429 and Retry-After, on the API and the git endpoint', async () => {
  const from = '127.0.0.9';
  for (let i = 0; i < 10; i++) {
    const r = await request('GET', '/api/apps', {
      token: `slw_guess-${String(i).padStart(3, '0')}-${'a'.repeat(40)}`,
      from,
    });
    assert.equal(r.status, 401, `attempt ${i + 1}`);
  }
  // The 11th try from that address is refused before its token is even looked at: a valid one too.
  const blocked = await request('GET', '/api/apps', { token: userToken, from });
  assert.equal(blocked.status, 429);
  assert.ok(
    Number(blocked.headers['retry-after']) > 0 && Number(blocked.headers['retry-after']) <= 60,
    String(blocked.headers['retry-after']),
  );
  assert.match(JSON.parse(blocked.body).message, /too many failed authentications from this address/);
  const git = await request('GET', `/${APP}.git/info/refs?service=git-upload-pack`, { basic: userToken, from });
  assert.equal(git.status, 429);
  assert.ok(Number(git.headers['retry-after']) > 0);
  // Another address is not affected, and asking without credentials is not a failure.
  assert.equal((await request('GET', '/api/apps', { token: userToken, from: '127.0.0.10' })).status, 200);
  // The git endpoint counts its own failures too (git's credential-less first request does not count).
  const from2 = '127.0.0.11';
  for (let i = 0; i < 10; i++) {
    assert.equal((await request('GET', `/${APP}.git/info/refs?service=git-upload-pack`, { from: from2 })).status, 401);
  }
  assert.equal((await request('GET', '/api/apps', { token: userToken, from: from2 })).status, 200);
  for (let i = 0; i < 10; i++) {
    const r = await request('GET', `/${APP}.git/info/refs?service=git-upload-pack`, {
      basic: `slw_wrong-${String(i).padStart(3, '0')}-${'b'.repeat(40)}`,
      from: from2,
    });
    assert.equal(r.status, 401);
  }
  assert.equal((await request('GET', '/api/apps', { token: userToken, from: from2 })).status, 429);
});
