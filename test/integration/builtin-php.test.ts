import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildGroup, httpGet, listLayers, writeAppFile } from '../helpers/run-buildpack';
import { coldBuild, expectServes, warmRebuild, withWorkspace } from '../helpers/builtin-cases';

// The PHP buildpack through the CNB harness: PHP, php-fpm and nginx from Debian in a layer, served
// without root; Composer from Debian with a path repository (packagist is unreachable here), an
// ext-* mapped to its Debian package, the warm rebuild, and the errors for an extension Debian
// doesn't have and a PHP version the stack lacks.

test('index.php without composer.json is served by nginx + php-fpm from the app root', (t) =>
  withWorkspace('php-hello', async (ws) => {
    const b = await coldBuild(t, ws, 'php', 'php (no composer)');
    assert.match(b.output, /No composer\.json/);
    assert.match(b.output, /Default web process: nginx \+ php-fpm serving \/app\//);
    assert.deepEqual(listLayers(ws, 'php').php, { launch: true, build: true, cache: true });
    await expectServes(ws, 'php', '/some/route?x=1', async (r, run) => {
      assert.equal(r.status, 200, run.logs());
      assert.match(r.body, /^hello from php 8\.2\.\d+ via fpm-fcgi at \/some\/route\?x=1$/m);
      assert.equal((await httpGet(run.url + '/.git/config')).status, 403);
    });
  }));

test('composer with a path repository and ext-bcmath: public/ is the document root; warm rebuild reuses vendor/', (t) =>
  withWorkspace('php-composer', async (ws) => {
    const b = await coldBuild(t, ws, 'php', 'php composer', { detect: false });
    assert.match(b.output, /composer\.json asks for PHP \^8\.1: PHP 8\.2\.\d+/);
    assert.match(b.output, /Extensions required: bcmath/);
    assert.match(b.output, /Installing slipway\/greeter \(1\.2\.0\)/);
    assert.match(b.output, /Default web process: nginx \+ php-fpm serving \/app\/public/);
    assert.equal(listLayers(ws, 'php').composer?.launch ?? false, false, 'Composer never ships');
    await expectServes(ws, 'php', '/', (r, run) => {
      assert.equal(r.status, 200, run.logs());
      assert.match(r.body, /^hello slim-style app from the greeter package, bcadd=3\.75, php 8\.2\.\d+$/m);
    });

    const edit = { file: 'src/Home.php', from: "'slim-style app'", to: "'warm app'" };
    const warm = await warmRebuild(t, ws, 'php', 'php composer', edit, 'php');
    assert.match(warm.output, /Using cached PHP 8\.2\.\d+ and nginx/);
    assert.match(warm.output, /Reusing vendor\/: composer\.json, composer\.lock and PHP unchanged/);
    assert.doesNotMatch(warm.output, /Installing slipway\/greeter/);
    await expectServes(ws, 'php', '/', (r) => {
      assert.match(r.body, /^hello warm app from the greeter package/);
    });
  }));

test('an ext-* Debian has no package for, and a PHP version the stack lacks, fail with what to do', () =>
  withWorkspace('php-composer', async (ws) => {
    const doc = JSON.parse(fs.readFileSync(path.join(ws.srcDir, 'composer.json'), 'utf8'));
    writeAppFile(ws, 'composer.json', JSON.stringify({ ...doc, require: { ...doc.require, 'ext-oci8': '*' } }));
    const b = await buildGroup(ws, ['php']);
    assert.notEqual(b.code, 0);
    assert.match(
      b.output,
      /composer\.json requires ext-oci8, and Debian bookworm has no package for it \(tried php8\.2-oci8 php-oci8\)/,
    );
    assert.match(b.output, /Hint: Remove ext-oci8 from composer\.json/);
    writeAppFile(ws, 'composer.json', JSON.stringify({ ...doc, require: { ...doc.require, php: '>=8.4' } }));
    const v = await buildGroup(ws, ['php']);
    assert.notEqual(v.code, 0);
    assert.match(
      v.output,
      /PHP ">=8\.4" \(composer\.json require\.php\) is not available on the bookworm stack, which has PHP 8\.2\.\d+/,
    );
    assert.match(v.output, /Hint: The trixie stack has it: run `slipway stack:set trixie -a APP`/);
  }));
