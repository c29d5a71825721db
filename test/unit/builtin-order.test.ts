import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import TOML from '@iarna/toml';
import { BUILTIN_DIR } from '../helpers/run-buildpack';

// The built-in buildpacks are well-formed CNB buildpacks and the default order names them exactly.

const NAMES = ['apt', 'java', 'nodejs', 'php', 'procfile', 'ruby', 'static'];

test('each built-in is a CNB buildpack: api >= 0.10, id slipway/NAME, X.Y.Z version, executable bin/detect and bin/build', () => {
  for (const name of NAMES) {
    const dir = path.join(BUILTIN_DIR, name);
    const doc = TOML.parse(fs.readFileSync(path.join(dir, 'buildpack.toml'), 'utf8')) as {
      api: string;
      buildpack: { id: string; version: string };
      targets?: Array<{ os: string }>;
    };
    const [major, minor] = doc.api.split('.').map(Number);
    assert.ok(major > 0 || minor >= 10, `${name}: api ${doc.api}`);
    assert.equal(doc.buildpack.id, `slipway/${name}`);
    assert.match(doc.buildpack.version, /^\d+\.\d+\.\d+$/);
    assert.equal(doc.targets?.[0]?.os, 'linux');
    for (const bin of ['detect', 'build']) {
      const st = fs.statSync(path.join(dir, 'bin', bin));
      assert.ok(st.mode & 0o111, `${name}/bin/${bin} is executable`);
      assert.match(fs.readFileSync(path.join(dir, 'bin', bin), 'utf8'), /^#!\/usr\/bin\/env bash\n/);
    }
  }
});

test('order.toml: Aptfile (optional) + a language (Ruby, PHP, Java, Node.js, Python, Go) + Procfile (optional); static; Aptfile (optional) + Procfile', () => {
  const order = TOML.parse(fs.readFileSync(path.join(BUILTIN_DIR, 'order.toml'), 'utf8')).order as unknown as Array<{
    group: Array<{ id: string; version: string; optional?: boolean }>;
  }>;
  const shape = order.map((o) => o.group.map((g) => `${g.id}${g.optional ? '?' : ''}`));
  assert.deepEqual(shape, [
    ['slipway/apt?', 'slipway/ruby', 'slipway/procfile?'],
    ['slipway/apt?', 'slipway/php', 'slipway/procfile?'],
    ['slipway/apt?', 'slipway/java', 'slipway/procfile?'],
    ['slipway/apt?', 'slipway/nodejs', 'slipway/procfile?'],
    ['slipway/apt?', 'slipway/python', 'slipway/procfile?'],
    ['slipway/apt?', 'slipway/go', 'slipway/procfile?'],
    ['slipway/static'],
    ['slipway/apt?', 'slipway/procfile'],
  ]);
  for (const g of order.flatMap((o) => o.group)) {
    const doc = TOML.parse(fs.readFileSync(path.join(BUILTIN_DIR, g.id.split('/')[1], 'buildpack.toml'), 'utf8')) as {
      buildpack: { version: string };
    };
    assert.equal(g.version, doc.buildpack.version, `${g.id} version in order.toml`);
  }
});
