import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildGem, TINYEXT, TINYRACK } from '../helpers/package-sources';
import { buildGroup, listLayers, writeAppFile, type Workspace } from '../helpers/run-buildpack';
import { coldBuild, expectServes, warmRebuild, withWorkspace } from '../helpers/builtin-cases';

// The Ruby buildpack through the CNB harness: Debian's Ruby in a layer, gems from vendor/cache
// (built by the test: rubygems.org is unreachable here), a C extension compiled against the
// stack's headers, the default rackup process, a warm rebuild that runs no Bundler, and the
// error for a Ruby version the stack lacks.

function vendorGems(ws: Workspace): void {
  for (const dir of [ws.srcDir, ws.appDir]) {
    buildGem(path.join(dir, 'vendor', 'cache'), TINYRACK);
    buildGem(path.join(dir, 'vendor', 'cache'), TINYEXT);
  }
  if (process.getuid?.() === 0) fs.chmodSync(ws.appDir, 0o777);
}

test('a Sinatra-style Rack app: Ruby from Debian, gems from vendor/cache (one native), rackup by default; warm rebuild reuses the gems', (t) =>
  withWorkspace('ruby-rack', async (ws) => {
    vendorGems(ws);
    const b = await coldBuild(t, ws, 'ruby', 'ruby');
    assert.match(b.output, /Installing Ruby 3\.1 from Debian bookworm/);
    assert.match(b.output, /Installing from vendor\/cache \(--local\)/);
    assert.match(b.output, /Installing tinyext 0\.1\.0 with native extensions/);
    assert.doesNotMatch(b.output, /not-installed-in-production \(9/);
    assert.match(b.output, /Default web process: bundle exec rackup config\.ru/);
    assert.deepEqual(listLayers(ws, 'ruby').ruby, { launch: true, build: true, cache: true });
    assert.deepEqual(listLayers(ws, 'ruby').gems, { launch: true, build: true, cache: true });
    await expectServes(ws, 'ruby', '/', (r) => {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hello from ruby 3.1.2 (production), compiled-in-c');
    });

    const warm = await warmRebuild(
      t,
      ws,
      'ruby',
      'ruby',
      { file: 'app.rb', from: 'hello from', to: 'hi from' },
      'gems',
    );
    assert.match(warm.output, /Using cached Ruby 3\.1\.\S+ \(Debian bookworm\)/);
    assert.match(warm.output, /Reusing gems: Gemfile, Gemfile\.lock and Ruby unchanged/);
    assert.doesNotMatch(warm.output, /Installing tinyext/);
  }));

test('a Ruby version the stack lacks fails naming the stack that has it and the command to switch', () =>
  withWorkspace('ruby-rack', async (ws) => {
    writeAppFile(ws, 'Gemfile', 'source "https://rubygems.org"\nruby "~> 3.3"\ngem "tinyrack"\n');
    const b = await buildGroup(ws, ['ruby']);
    assert.notEqual(b.code, 0);
    assert.match(
      b.output,
      /Ruby ~> 3\.3 \(from the Gemfile's ruby line\) is not available on the bookworm stack, which has Ruby 3\.1\.2/,
    );
    assert.match(b.output, /Hint: The trixie stack has it: run `slipway stack:set trixie -a APP` and push again/);
    writeAppFile(ws, 'Gemfile', 'source "https://rubygems.org"\nruby "3.3.4"\ngem "tinyrack"\n');
    const exact = await buildGroup(ws, ['ruby']);
    assert.match(
      exact.output,
      /Ruby 3\.3\.4 \(from the Gemfile's ruby line\) is not available on the bookworm stack, which has Ruby 3\.1\.2/,
    );
    assert.match(
      exact.output,
      /Hint: The trixie stack has Ruby 3\.3\.\d+: run `slipway stack:set trixie -a APP` and ask for ruby "~> 3\.3\.0"/,
    );
    writeAppFile(ws, 'Gemfile', 'source "https://rubygems.org"\ngem "tinyrack"\n');
    writeAppFile(ws, '.ruby-version', 'ruby-2.7.8\n');
    const old = await buildGroup(ws, ['ruby']);
    assert.match(
      old.output,
      /Ruby 2\.7\.8 \(from \.ruby-version\) is not available on any stack \(bookworm has 3\.1\.2, trixie has 3\.3\.\d+\)/,
    );
  }));
