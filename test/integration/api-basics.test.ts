import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { startTestServer, type TestServer } from '../helpers/server';

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ seedStacks: false });
});
after(async () => {
  await srv?.stop();
});

async function api(method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string } = {}) {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? srv.token : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${srv.url}/api${path}`, {
    method,
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

test('errors have the documented shape and real statuses', async () => {
  const cases: Array<[Promise<{ status: number; json: any }>, number, string]> = [
    [api('GET', '/apps', { token: null }), 401, 'unauthorized'],
    [api('GET', '/apps', { token: 'slw_nope' }), 401, 'unauthorized'],
    [api('GET', '/apps/no-such-app'), 404, 'not_found'],
    [api('GET', '/apps/Bad_Name'), 422, 'invalid_name'],
    [api('POST', '/apps', { raw: '{not json' }), 422, 'invalid_input'],
    [api('POST', '/apps', { body: { name: 'x-app-1', owner: 'someone@else' } }), 422, 'invalid_input'],
    [api('GET', '/nothing-here'), 404, 'not_found'],
  ];
  for (const [p, status, id] of cases) {
    const r = await p;
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.equal(r.json.id, id);
    assert.equal(typeof r.json.message, 'string');
    assert.ok(r.json.message.length > 0);
  }
  const missing = await api('GET', '/apps/no-such-app');
  assert.match(missing.json.hint, /slipway apps:create no-such-app/);
});

test('apps: create with and without a name, info, duplicate, destroy; events and api log lines', async () => {
  const named = await api('POST', '/apps', { body: { name: 'basic-app' } });
  assert.equal(named.status, 201);
  assert.equal(named.json.name, 'basic-app');
  assert.equal(named.json.owner, srv.email);
  const dup = await api('POST', '/apps', { body: { name: 'basic-app' } });
  assert.equal(dup.status, 409);
  const random = await api('POST', '/apps', { body: {} });
  assert.equal(random.status, 201);
  assert.match(random.json.name, /^[a-z]+-[a-z]+-\d{4}$/);
  const list = await api('GET', '/apps');
  assert.deepEqual(list.json.map((a: any) => a.name).sort(), ['basic-app', random.json.name].sort());
  const logs = await api('GET', '/apps/basic-app/logs?source=api');
  assert.match(logs.text, /app\[api\]: App basic-app created by admin@example.com/);
  const del = await api('DELETE', `/apps/${random.json.name}`);
  assert.equal(del.status, 200);
  assert.equal((await api('GET', `/apps/${random.json.name}`)).status, 404);
  const events = await api('GET', '/events');
  assert.ok(events.json.some((e: any) => e.action === 'app.destroy' && e.appName === random.json.name));
});

test('config values are readable via the API and not in clear text in the database', async () => {
  await api('POST', '/apps', { body: { name: 'config-app' } });
  const secret = 'very-secret-value-' + Date.now();
  const set = await api('PATCH', '/apps/config-app/config', { body: { SECRET_THING: secret, OTHER: 'x' } });
  assert.equal(set.status, 200);
  assert.equal(set.json.SECRET_THING, secret);
  const unset = await api('PATCH', '/apps/config-app/config', { body: { OTHER: null } });
  assert.deepEqual(Object.keys(unset.json), ['SECRET_THING']);
  const bad = await api('PATCH', '/apps/config-app/config', { body: { '1BAD': 'x' } });
  assert.equal(bad.status, 422);
  const events = await api('GET', '/events?app=config-app');
  assert.ok(!JSON.stringify(events.json).includes(secret), 'events never contain values');
  const logs = await api('GET', '/apps/config-app/logs');
  assert.ok(!logs.text.includes(secret));
  assert.match(logs.text, /Set SECRET_THING, OTHER config vars by admin@example.com/);
  for (const f of fs.readdirSync(srv.paths.db.replace(/slipway\.db$/, ''))) {
    const bytes = fs.readFileSync(srv.paths.db.replace(/slipway\.db$/, f));
    assert.ok(!bytes.includes(Buffer.from(secret)), `${f} holds the value in clear text`);
  }
});

test('status reports versions, health of server, router and dockerd, URLs, domain and disk use', async () => {
  const s = await api('GET', '/status');
  assert.equal(s.status, 200);
  assert.equal(s.json.server.status, 'ok');
  assert.match(s.json.server.version, /^\d+\.\d+\.\d+/);
  // No router runs in this test: reported down with the URL it polled, not hidden.
  assert.equal(s.json.router.status, 'down');
  assert.equal(s.json.router.url, `http://127.0.0.1:${srv.httpPort}/healthz`);
  assert.equal(s.json.docker.status, 'ok');
  assert.match(s.json.docker.version, /^\d+\./);
  assert.equal(s.json.domain, 'localhost');
  assert.equal(s.json.urls.api, srv.url);
  assert.deepEqual(s.json.ports, { api: srv.apiPort, http: srv.httpPort, https: srv.httpsPort });
  for (const k of ['images', 'caches', 'repos', 'builds', 'logs']) assert.equal(typeof s.json.disk[k], 'number', k);
  assert.ok(Array.isArray(s.json.apps));
});

test('stacks are listed for users; stacks:update is for admins only', async () => {
  const u = await api('POST', '/users', { body: { email: 'plain@example.com' } });
  assert.equal(u.status, 201);
  assert.match(u.json.token, /^slw_/);
  const list = await api('GET', '/stacks', { token: u.json.token });
  assert.equal(list.status, 200);
  assert.equal(list.json[0].name, 'bookworm');
  const upd = await api('POST', '/stacks/update', { token: u.json.token, body: {} });
  assert.equal(upd.status, 403);
  assert.equal(upd.json.id, 'forbidden');
  const users = await api('GET', '/users', { token: u.json.token });
  assert.equal(users.status, 403);
});

test('formation updates are validated at the edge', async () => {
  await api('POST', '/apps', { body: { name: 'scale-app' } });
  const cases: Array<[unknown, RegExp]> = [
    [{ updates: 'web=2' }, /must be an array/],
    [{ updates: [] }, /non-empty list/],
    [{ updates: [{ type: 'web', quantity: -1 }] }, /from 0 to 100/],
    [{ updates: [{ type: 'web', quantity: 2, owner: 'x' }] }, /unknown field "owner"/],
    [{ updates: [{ type: 'web', size: 'huge' }] }, /not a dyno size/],
    [{ updates: [{ type: 'bad type', quantity: 1 }] }, /not a valid process type/],
  ];
  for (const [b, re] of cases) {
    const r = await api('PATCH', '/apps/scale-app/formation', { body: b });
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.match(r.json.message, re);
  }
  // Valid before the first release: the formation is recorded and applied once a release exists.
  const r = await api('PATCH', '/apps/scale-app/formation', { body: { updates: [{ type: 'web', quantity: 2 }] } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual((await api('GET', '/apps/scale-app/formation')).json, [
    { type: 'web', quantity: 2, size: 'standard-1x' },
  ]);
  const logs = await api('GET', '/apps/scale-app/logs?source=api');
  assert.match(logs.text, /app\[api\]: Scaled to web@2 by admin@example.com/);
});
