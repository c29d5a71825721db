import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DIST, freePort, startTestServer, type TestServer } from '../helpers/server';
import {
  api,
  createApp,
  createUser,
  getVia,
  gitUrl,
  makeRepo,
  spawnGit,
  startRouter,
  uniq,
} from '../integration/git-helpers';
import { launchChromium, shot, watchErrors } from './chromium';

/**
 * The web dashboard in a real Chromium against a real server, router and Docker: sign-in (one-time
 * link, token), a git push watched live from the app page, scaling, live logs, metrics that count
 * the requests sent, config reveal, rollback, a viewer's read-only view, CSRF and cross-origin
 * refusals. One app, pushed once, for the whole file.
 */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
const APP = uniq('dash');
const SERVER_JS = `
const http = require('http');
http.createServer((req, res) => {
  console.log('hit ' + req.url + ' on ' + process.env.DYNO);
  res.setHeader('content-type', 'text/plain');
  res.end('ok ' + process.env.DYNO + '\\n');
}).listen(Number(process.env.PORT || 5000), () => console.log('listening on ' + process.env.PORT));
`;

let srv: TestServer;
let stopRouter: (() => Promise<void>) | undefined;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
let repo: string;
let errors: string[] = [];

const sel = (s: string, timeout = 30_000) => page.waitForSelector(s, { timeout });

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BUILD_TIMEOUT_S: '600', SLIPWAY_METRICS_DYNO_SAMPLE_S: '2' } });
  stopRouter = await startRouter(srv);
  await createApp(srv, APP);
  repo = await makeRepo({
    'package.json': JSON.stringify({ name: 'dash', version: '1.0.0', private: true, engines: { node: '20.x' } }),
    'package-lock.json': JSON.stringify({
      name: 'dash',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name: 'dash', version: '1.0.0', engines: { node: '20.x' } } },
    }),
    'server.js': SERVER_JS,
    Procfile: 'web: node server.js\n',
  });
  browser = await launchChromium();
  admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await admin.newPage();
  errors = watchErrors(page);
});

after(async () => {
  await browser?.close();
  await stopRouter?.();
  await srv?.stop();
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
});

async function signInWithToken(p: Page, token: string): Promise<void> {
  await p.goto(`${srv.url}/`);
  await p.waitForSelector('input[name=token]');
  await p.fill('input[name=token]', token);
  await p.click('button[type=submit]');
  await p.waitForSelector('nav.top [data-action=logout]');
}

/** Requests through the router to the app (Host APP.localhost), as a visitor would send them. */
let sent = 0;
async function visit(p: string, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    sent++;
    const r = await getVia(srv.httpPort, `${APP}.localhost`, p);
    assert.equal(r.status, 200, `GET ${p} through the router: ${r.status} ${r.body}`);
  }
}

test('sign in with an API token; the apps list shows the app; the dashboard is served over HTTPS too with a Secure cookie', async () => {
  await page.goto(`${srv.url}/apps/${APP}`);
  await sel('input[name=token]');
  await shot(page, 'login');
  await page.fill('input[name=token]', 'slw_not-a-token');
  await page.click('button[type=submit]');
  await sel('.error');
  assert.match((await page.textContent('.error')) ?? '', /not valid/);
  await page.fill('input[name=token]', srv.token);
  await page.click('button[type=submit]');
  // Back where the link pointed, signed in.
  await sel(`[data-app-page="${APP}"]`);
  await page.goto(`${srv.url}/`);
  await sel(`table.apps tr[data-app="${APP}"]`);

  const cookie = (await admin.cookies()).find((c) => c.name === 'slipway_session')!;
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');

  const httpsPort = Number(srv.env.SLIPWAY_API_HTTPS_PORT);
  const res = await new Promise<http.IncomingMessage & { body: string }>((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: httpsPort,
        path: '/api/session',
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json' },
      },
      (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve(Object.assign(r, { body })));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ token: srv.token }));
  });
  assert.equal(res.statusCode, 201, res.body);
  assert.match(
    String(res.headers['set-cookie']),
    /slipway_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure/,
  );
  const html = await new Promise<{ status: number; csp: string; body: string }>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: httpsPort, path: '/', rejectUnauthorized: false }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, csp: String(r.headers['content-security-policy']), body }));
      })
      .on('error', reject);
  });
  assert.equal(html.status, 200);
  assert.match(html.body, /<script type="module" src="\/assets\/app-[A-Z0-9]+\.js">/);
  assert.match(html.csp, /script-src 'self'/);
});

test('sign in with a one-time link from `slipway dashboard`; the link works once', async () => {
  const out = await exec(process.execPath, [CLI, 'dashboard'], { env: srv.cliEnv() });
  const url = out.stdout.trim().split('\n')[0];
  assert.match(url, new RegExp(`^${srv.url}/login#code=[A-Za-z0-9_-]{20,}$`));
  const ctx = await browser.newContext();
  try {
    const p = await ctx.newPage();
    await p.goto(url);
    await p.waitForSelector(`table.apps tr[data-app="${APP}"]`);
    assert.ok(!p.url().includes('code='), `the code left the address bar: ${p.url()}`);
  } finally {
    await ctx.close();
  }
  const again = await browser.newContext();
  try {
    const p = await again.newPage();
    await p.goto(url);
    await p.waitForSelector('.error');
    assert.match((await p.textContent('.error')) ?? '', /used, expired or unknown/);
  } finally {
    await again.close();
  }
});

test('a git push while the app page is open shows the build output live and the new release without a reload', async () => {
  await page.goto(`${srv.url}/apps/${APP}`);
  await sel('text=No builds yet');
  const push = spawnGit(['push', gitUrl(srv, APP), 'HEAD:main'], repo);
  // The output streams in while the build runs.
  const live = await page.waitForSelector(
    '[data-build-status=running] [data-build-output], [data-build-status=pending] [data-build-output]',
    { timeout: 120_000 },
  );
  await page.waitForFunction((el) => (el?.textContent ?? '').includes('----->'), live, { timeout: 120_000 });
  await shot(page, 'build-live');
  assert.equal(await push.done, 0, push.output());
  await sel('tr[data-release="1"][data-current="1"]', 60_000);
  await sel('[data-build-status=succeeded]');
  assert.match((await page.textContent('[data-build-output]')) ?? '', /Launching|Released|----->/);
  assert.deepEqual(errors, []);
});

test('scale web to 2 from the formation controls and see both dynos up', async () => {
  await page.goto(`${srv.url}/apps/${APP}`);
  await sel('input[name=qty-web]');
  await page.fill('input[name=qty-web]', '2');
  await page.click('[data-action=scale-web]');
  await sel('tr[data-dyno="web.1"][data-state=up]', 90_000);
  await sel('tr[data-dyno="web.2"][data-state=up]', 90_000);
  assert.equal(await page.inputValue('input[name=qty-web]'), '2');
  await shot(page, 'app-overview');
});

test('live logs show a line the app printed', async () => {
  await page.goto(`${srv.url}/apps/${APP}/logs?source=app`);
  await sel('pre[data-log] div');
  assert.equal(await page.inputValue('select[name=source]'), 'app', 'the filter comes from the URL');
  const marker = `/log-probe-${Date.now()}`;
  await visit(marker);
  await page.waitForFunction(
    (m) => document.querySelector('pre[data-log]')?.textContent?.includes(`hit ${m} on web.`),
    marker,
    { timeout: 15_000 },
  );
  await shot(page, 'logs');
});

test('metrics plots show the requests the test sent (counts match)', async () => {
  const n = 37;
  await visit('/metrics-probe', n);
  // The router writes its access log, the server tails it (200 ms) and buckets it by minute. Only
  // this file sends requests through the router, so the count is exact.
  const count = async () =>
    (await api<{ summary: { requests: number } }>(srv, 'GET', `/apps/${APP}/metrics?since=1h`)).body.summary.requests;
  let total = await count();
  const deadline = Date.now() + 20_000;
  while (total < sent && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    total = await count();
  }
  assert.equal(total, sent, 'every request sent through the router is counted once');
  // Dynos are sampled from Docker every 2 s here (docker stats takes about a second per round): on
  // a quiet machine this test can start before web's first sample, so wait for it as a user would.
  type Dynos = { dynos: Record<string, { memory: Array<number | null> }> };
  const sampled = async () =>
    ((await api<Dynos>(srv, 'GET', `/apps/${APP}/metrics?since=1h`)).body.dynos?.web?.memory ?? []).some(
      (m) => m !== null,
    );
  const memDeadline = Date.now() + 30_000;
  while (!(await sampled()) && Date.now() < memDeadline) await new Promise((r) => setTimeout(r, 300));
  // The CLI reads the same numbers: sparklines and a summary line.
  const cli = await exec(process.execPath, [CLI, 'metrics', '-a', APP, '--since', '1h'], {
    env: { ...srv.cliEnv(), NO_COLOR: '1' },
  });
  assert.match(
    cli.stdout,
    new RegExp(`Requests ${total} \\(2xx ${total}, 3xx 0, 4xx 0, 5xx 0\\); latency p50 [\\d.]+ ms`),
    cli.stdout,
  );
  assert.match(cli.stdout, /^requests +[▁▂▃▄▅▆▇█ ]+ +\d+ total$/m, cli.stdout);
  assert.match(cli.stdout, /^web mem +[▁▂▃▄▅▆▇█ ]+ +[\d.]+ (B|KB|MB)$/m, 'dyno memory sampled from Docker');
  await page.goto(`${srv.url}/apps/${APP}/metrics`);
  await sel('[data-chart=requests] canvas');
  assert.equal(await page.getAttribute('[data-summary-requests]', 'data-summary-requests'), String(total));
  // The plotted points add up to the same count (all 2xx here).
  const label = (await page.getAttribute('[data-chart=requests] [role=img]', 'aria-label')) ?? '';
  assert.match(label, new RegExp(`2xx ${total}\\b`), label);
  await sel('[data-chart=latency] canvas');
  await sel('[data-chart=memory] canvas');
  await shot(page, 'metrics');
  await page.click('[data-range="24h"]');
  await page.waitForURL(/range=24h/);
  await page.waitForFunction(
    (t) => document.querySelector('[data-summary-requests]')?.getAttribute('data-summary-requests') === t,
    String(total),
  );
});

test('set a config var; its value stays hidden until revealed', async () => {
  await page.goto(`${srv.url}/apps/${APP}/config`);
  await sel('[data-form=config-add]');
  const value = `s3cret-${Date.now()}`;
  await page.fill('[data-form=config-add] input[name=key]', 'API_SECRET');
  await page.fill('[data-form=config-add] input[name=value]', value);
  await page.click('[data-form=config-add] button[type=submit]');
  await sel('tr[data-key=API_SECRET]');
  assert.ok(
    !((await page.textContent('main')) ?? '').includes(value),
    'the value is not on the page before it is revealed',
  );
  await page.click('[data-action=reveal-API_SECRET]');
  assert.equal(await page.textContent('tr[data-key=API_SECRET] [data-revealed]'), value);
  await shot(page, 'config');
  const cfg = await api<Record<string, string>>(srv, 'GET', `/apps/${APP}/config`);
  assert.equal(cfg.body.API_SECRET, value);
});

test('roll back a release with one click and a confirmation', async () => {
  await page.goto(`${srv.url}/apps/${APP}/releases`);
  await sel('tr[data-release="2"][data-current="1"]', 30_000);
  await page.click('[data-action=rollback-v1]');
  await page.click('[data-action=rollback-v1-confirm]');
  await sel('tr[data-release="3"][data-current="1"]', 60_000);
  assert.match((await page.textContent('tr[data-release="3"]')) ?? '', /Rollback to v1/);
  await shot(page, 'releases');
});

test('a viewer sees no edit controls, and a forged change request is refused', async () => {
  const email = `viewer-${Date.now()}@example.com`;
  const token = await createUser(srv, email);
  const add = await api(srv, 'POST', `/apps/${APP}/collaborators`, { email, role: 'viewer' });
  assert.equal(add.status, 201, JSON.stringify(add.body));
  const ctx = await browser.newContext();
  try {
    const p = await ctx.newPage();
    await signInWithToken(p, token);
    await p.goto(`${srv.url}/apps/${APP}`);
    await p.waitForSelector('tr[data-ptype=web]');
    await p.waitForSelector('tr[data-dyno]');
    assert.equal(await p.getAttribute('[data-app-page]', 'data-role'), 'viewer');
    for (const s of ['input[name=qty-web]', '[data-action=scale-web]', '[data-action^=restart]'])
      assert.equal(await p.$(s), null, `viewer sees ${s}`);
    await p.goto(`${srv.url}/apps/${APP}/config`);
    await p.waitForSelector('section.card h2:text("Config vars")');
    for (const s of ['[data-form=config-add]', '[data-action^=edit-]', '[data-action^=unset-]'])
      assert.equal(await p.$(s), null, `viewer sees ${s}`);
    await p.goto(`${srv.url}/apps/${APP}/releases`);
    await p.waitForSelector('tr[data-release="1"]');
    assert.equal(await p.$('[data-action^=rollback]'), null, 'viewer sees rollback');
    // Forged: a change sent from the viewer's own session, with a valid CSRF token.
    const status = await p.evaluate(async (app) => {
      const s = (await (await fetch('/api/session')).json()) as { csrfToken: string };
      const r = await fetch(`/api/apps/${app}/formation`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken },
        body: JSON.stringify({ updates: [{ type: 'web', quantity: 0 }] }),
      });
      return r.status;
    }, APP);
    assert.equal(status, 403);
    const f = await api<Array<{ type: string; quantity: number }>>(srv, 'GET', `/apps/${APP}/formation`);
    assert.equal(f.body.find((x) => x.type === 'web')?.quantity, 2);
  } finally {
    await ctx.close();
  }
});

test('CSRF: a change without the session token, or from another origin, is refused', async () => {
  await page.goto(`${srv.url}/`);
  // Same origin, cookie sent, but no X-CSRF-Token: refused.
  const noToken = await page.evaluate(
    async (app) =>
      (
        await fetch(`/api/apps/${app}/config`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ EVIL: '1' }),
        })
      ).status,
    APP,
  );
  assert.equal(noToken, 403);

  // Another origin (localhost vs 127.0.0.1: another site) posting to the API with the browser's cookies.
  const port = await freePort();
  const evil = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><form id=f method=POST action="${srv.url}/api/apps/${APP}/dynos/restart" enctype="text/plain"><input name='{"a":"' value='"}'></form>
<script>fetch(${JSON.stringify(`${srv.url}/api/apps/${APP}/config`)}, { method: 'PATCH', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"EVIL":"1"}' }).finally(() => { document.title = 'sent'; document.getElementById('f').submit(); });</script>`);
  });
  await new Promise<void>((r) => evil.listen(port, '127.0.0.1', r));
  try {
    const p = await admin.newPage();
    await p.goto(`http://localhost:${port}/`);
    await p.waitForURL(/dynos\/restart/, { timeout: 10_000 });
    const body = (await p.textContent('body')) ?? '';
    assert.match(body, /"id":"(unauthorized|forbidden)"/, body);
    await p.close();
  } finally {
    evil.close();
  }
  const cfg = await api<Record<string, string>>(srv, 'GET', `/apps/${APP}/config`);
  assert.equal(cfg.body.EVIL, undefined, 'the cross-origin change did not happen');

  // Even with the cookie and the right CSRF token, a foreign Origin is refused by the server.
  const cookie = (await admin.cookies()).find((c) => c.name === 'slipway_session')!;
  const csrf = await page.evaluate(
    async () => ((await (await fetch('/api/session')).json()) as { csrfToken: string }).csrfToken,
  );
  const forged = await fetch(`${srv.url}/api/apps/${APP}/config`, {
    method: 'PATCH',
    headers: {
      cookie: `slipway_session=${cookie.value}`,
      'x-csrf-token': csrf,
      origin: 'http://evil.example',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ EVIL: '1' }),
  });
  assert.equal(forged.status, 403);
  const same = await fetch(`${srv.url}/api/apps/${APP}/config`, {
    method: 'PATCH',
    headers: {
      cookie: `slipway_session=${cookie.value}`,
      'x-csrf-token': csrf,
      origin: srv.url,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ FROM_SESSION: '1' }),
  });
  assert.equal(same.status, 200, 'the same request from the dashboard origin is accepted');
});

test('admin pages, keyboard, narrow screen and dark scheme; sign out ends the session', async () => {
  await page.goto(`${srv.url}/admin/health`);
  await sel('[data-health]');
  await shot(page, 'admin-health');
  await page.goto(`${srv.url}/admin/users`);
  await sel('[data-users]');
  // Keyboard: g a goes to the apps list, / focuses its filter.
  await page.keyboard.press('g');
  await page.keyboard.press('a');
  await sel(`table.apps tr[data-app="${APP}"] svg.spark`);
  await shot(page, 'apps');
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Filter apps');
  await page.keyboard.type('zzz');
  await page.waitForURL(/\?q=zzz/);
  assert.equal(await page.$(`tr[data-app="${APP}"]`), null);

  const narrow = await browser.newContext({
    viewport: { width: 390, height: 800 },
    colorScheme: 'dark',
    storageState: await admin.storageState(),
  });
  try {
    const p = await narrow.newPage();
    await p.goto(`${srv.url}/apps/${APP}`);
    await p.waitForSelector('tr[data-dyno="web.2"]');
    const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(18, 20, 23)', 'dark scheme');
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scroll on a narrow screen (${overflow}px)`);
    await shot(p, 'app-narrow-dark');
  } finally {
    await narrow.close();
  }

  const cookie = (await admin.cookies()).find((c) => c.name === 'slipway_session')!;
  await page.click('[data-action=logout]');
  await sel('input[name=token]');
  const r = await fetch(`${srv.url}/api/session`, { headers: { cookie: `slipway_session=${cookie.value}` } });
  assert.equal(r.status, 401);
  assert.deepEqual(errors, []);
});
