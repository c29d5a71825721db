import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { BUILTIN_DIR } from '../helpers/run-buildpack';

// nginx.conf rendering from static.json (jq program of the static buildpack, run with the host's jq).

function render(cfg: object): string {
  const r = spawnSync(
    'jq',
    [
      '-r',
      '--arg',
      'root',
      '/app/public',
      '--arg',
      'mime',
      '/layers/x/mime.types',
      '--arg',
      'etags',
      '/layers/x/etags.map',
      '-f',
      path.join(BUILTIN_DIR, 'static', 'lib', 'nginx-conf.jq'),
    ],
    { input: JSON.stringify(cfg), encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('defaults: gzip, cache headers by type, $PORT placeholder, dotfiles and static.json hidden', () => {
  const conf = render({});
  assert.match(conf, /listen __PORT__;/);
  assert.match(conf, /root "\/app\/public";/);
  assert.match(conf, /gzip on;/);
  assert.match(conf, /expires \$slipway_expires;/);
  assert.match(conf, /location = \/static\.json \{ return 404; \}/);
  assert.match(conf, /location \/ \{\n\s+if \(\$slipway_fresh\) \{ return 304; \}\n\s+try_files \$uri \$uri\/ =404;/);
  // Validators from content (etags.map), never from the layers' fixed mtime.
  assert.match(conf, /etag off;/);
  assert.match(conf, /if_modified_since off;/);
  assert.match(conf, /include "\/layers\/x\/etags\.map";/);
  assert.match(conf, /add_header ETag \$slipway_etag;/);
  assert.doesNotMatch(conf, /x_forwarded_proto|error_page \d/);
  assert.deepEqual(conf.match(/add_header [^;]*;/g), ['add_header ETag $slipway_etag;'], 'no other headers by default');
});

test('routes become regex locations from globs (** any path, * one segment, the rest literal)', () => {
  const conf = render({ routes: { '/app/**': 'index.html', '/u/*/v1.0': '/profile.html' }, clean_urls: true });
  assert.match(conf, /location ~ "\^\/app\/\.\*\$" \{ try_files \$uri \$uri\.html \$uri\/ "\/index\.html"; \}/);
  assert.match(
    conf,
    /location ~ "\^\/u\/\[\^\/\]\*\/v1\\\\\.0\$" \{ try_files \$uri \$uri\.html \$uri\/ "\/profile\.html"; \}/,
  );
  assert.match(conf, /return 301 \$1\$2;/, 'clean_urls redirects .html URLs');
});

test('redirects, error_page, https_only and headers', () => {
  const conf = render({
    redirects: { '/old': { url: 'https://example.com/new' }, '/gone': { url: '/', status: 302 } },
    error_page: '/errors/404.html',
    https_only: true,
    headers: {
      '/**': { 'X-Frame-Options': 'DENY' },
      '/assets/**': { 'Cache-Control': 'public, max-age=31536000', 'X-Frame-Options': 'SAMEORIGIN' },
    },
  });
  assert.match(conf, /location = "\/old" \{ return 301 "https:\/\/example\.com\/new"; \}/);
  assert.match(conf, /location = "\/gone" \{ return 302 "\/"; \}/);
  assert.match(conf, /error_page 404 "\/errors\/404\.html";/);
  assert.match(conf, /if \(\$http_x_forwarded_proto != "https"\) \{ return 301 https:\/\/\$host\$request_uri; \}/);
  // One map per header name; the first matching glob wins, so order is kept.
  assert.match(
    conf,
    /map \$slipway_path \$slipway_hdr_1 \{\n {4}"~\^\/\.\*\$" "DENY";\n {4}"~\^\/assets\/\.\*\$" "SAMEORIGIN";\n {4}default "";\n {2}\}/,
  );
  assert.match(conf, /add_header "Cache-Control" \$slipway_hdr_0 always;/);
  assert.match(conf, /add_header "X-Frame-Options" \$slipway_hdr_1 always;/);
});

test('quotes and backslashes in values are escaped for nginx', () => {
  assert.match(render({ headers: { '/': { 'X-Q': 'say "hi" \\o/' } } }), /"~\^\/\$" "say \\"hi\\" \\\\o\/";/);
});
