import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  build,
  createWorkspace,
  detect,
  httpGet,
  prepareNextBuild,
  startApp,
  writeAppFile,
} from '../helpers/run-buildpack';

// The static buildpack: nginx from Debian in a layer, configured from static.json, run as uid 1000
// in the run image (which has no nginx of its own).

test('a static site: SPA fallback, custom 404, a redirect, headers, clean URLs, gzip and cache headers', async (t) => {
  const ws = createWorkspace('static-site');
  try {
    assert.equal((await detect(ws, 'static')).code, 0);
    const b = await build(ws, 'static');
    assert.equal(b.code, 0, b.output);
    t.diagnostic(`static cold build ${b.ms} ms`);
    assert.match(b.output, /Installed nginx 1\.\d+/);
    const app = await startApp(ws, ['static']);
    try {
      const index = await httpGet(app.url + '/');
      assert.equal(index.status, 200);
      assert.match(index.body, /static index/);
      assert.equal(index.headers['x-frame-options'], 'DENY', 'header for /**');
      assert.equal(index.headers['cache-control'], 'no-cache', 'HTML revalidates');

      const spa = await httpGet(app.url + '/app/settings/profile');
      assert.equal(spa.status, 200, 'SPA fallback');
      assert.match(spa.body, /static index/);

      const missing = await httpGet(app.url + '/no/such/page');
      assert.equal(missing.status, 404);
      assert.match(missing.body, /custom not found page/);

      const moved = await httpGet(app.url + '/old-page');
      assert.equal(moved.status, 301);
      assert.equal(moved.headers.location, '/about');

      const about = await httpGet(app.url + '/about');
      assert.equal(about.status, 200, 'clean URL serves about.html');
      assert.match(about.body, /about page/);
      assert.equal((await httpGet(app.url + '/about.html')).headers.location, '/about');

      const js = await httpGet(app.url + '/assets/app.js', { 'Accept-Encoding': 'gzip' });
      assert.equal(js.status, 200);
      assert.equal(js.headers['content-encoding'], 'gzip');
      assert.equal(js.headers['x-asset'], 'yes', 'header for /assets/**');
      assert.equal(js.headers['x-frame-options'], 'DENY');
      assert.equal(js.headers['cache-control'], 'max-age=86400');

      assert.equal((await httpGet(app.url + '/static.json')).status, 404, 'static.json is not served');
    } finally {
      app.stop();
    }

    // https_only redirects plain-HTTP requests behind the router; a warm build reuses nginx.
    prepareNextBuild(ws);
    const cfg = JSON.parse(fs.readFileSync(path.join(ws.appDir, 'static.json'), 'utf8'));
    writeAppFile(ws, 'static.json', JSON.stringify({ ...cfg, https_only: true }));
    const warm = await build(ws, 'static');
    assert.equal(warm.code, 0, warm.output);
    t.diagnostic(`static warm build ${warm.ms} ms`);
    assert.match(warm.output, /Using cached nginx/);
    assert.doesNotMatch(warm.output, /Downloading/);
    const secure = await startApp(ws, ['static']).catch((e) => {
      throw e;
    });
    try {
      const r = await httpGet(secure.url + '/about', { Host: 'site.example.com', 'X-Forwarded-Proto': 'http' });
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, 'https://site.example.com/about');
      assert.equal((await httpGet(secure.url + '/about', { 'X-Forwarded-Proto': 'https' })).status, 200);
    } finally {
      secure.stop();
    }
  } finally {
    ws.cleanup();
  }
});

test('static detection: index.html without package.json, or static.json; a bad root fails clearly', async () => {
  const ws = createWorkspace('static-site');
  try {
    fs.rmSync(path.join(ws.appDir, 'static.json'));
    assert.equal((await detect(ws, 'static')).code, 100, 'no static.json, no root index.html');
    writeAppFile(ws, 'index.html', '<h1>root index</h1>');
    assert.equal((await detect(ws, 'static')).code, 0);
    writeAppFile(ws, 'package.json', '{"name":"x"}');
    assert.equal((await detect(ws, 'static')).code, 100, 'a Node.js app with an index.html is a Node.js app');
    writeAppFile(ws, 'static.json', '{"root": "../etc"}');
    assert.equal((await detect(ws, 'static')).code, 0);
    const b = await build(ws, 'static');
    assert.notEqual(b.code, 0);
    assert.match(b.output, /static\.json root "\.\.\/etc" must be a directory inside the app/);
  } finally {
    ws.cleanup();
  }
});

test('validators come from content: a same-size edit is never answered 304 with the old page', async () => {
  const ws = createWorkspace('static-site');
  try {
    const original = fs.readFileSync(path.join(ws.appDir, 'public', 'index.html'), 'utf8');
    const first = await build(ws, 'static');
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /ETags from content for \d+ paths/);
    const v1 = await startApp(ws, ['static']);
    let etag1: string;
    try {
      const r = await httpGet(v1.url + '/');
      assert.equal(r.status, 200);
      etag1 = String(r.headers.etag);
      assert.match(etag1, /^"[0-9a-f]{16}"$/);
      // Every layer file has the same fixed mtime: a date says nothing about content, so it never earns a 304.
      const byDate = await httpGet(v1.url + '/', {
        'If-Modified-Since': new Date(Date.now() + 86_400_000).toUTCString(),
      });
      assert.equal(byDate.status, 200, 'If-Modified-Since alone is ignored');
      const again = await httpGet(v1.url + '/', { 'If-None-Match': etag1 });
      assert.equal(again.status, 304, 'an unchanged page revalidates');
    } finally {
      v1.stop();
    }

    // The next release changes one letter: same size, same (fixed) mtime, different bytes.
    prepareNextBuild(ws);
    const edited = original.replace('static index', 'static INDEX');
    assert.equal(edited.length, original.length);
    assert.notEqual(edited, original);
    writeAppFile(ws, 'public/index.html', edited);
    const second = await build(ws, 'static');
    assert.equal(second.code, 0, second.output);
    const v2 = await startApp(ws, ['static']);
    try {
      const r = await httpGet(v2.url + '/', { 'If-None-Match': etag1, 'If-Modified-Since': new Date().toUTCString() });
      assert.equal(r.status, 200, 'the old validator does not match the new content');
      assert.match(r.body, /static INDEX/);
      assert.notEqual(r.headers.etag, etag1);
      assert.equal((await httpGet(v2.url + '/', { 'If-None-Match': String(r.headers.etag) })).status, 304);
    } finally {
      v2.stop();
    }
  } finally {
    ws.cleanup();
  }
});
