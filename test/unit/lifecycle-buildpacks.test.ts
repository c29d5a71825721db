import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expandGroup, indexBuildpacks, loadBuildpack, matchesTarget } from '../../buildpacks/lifecycle/buildpacks';

function bpDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-bp-'));
  for (const [f, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), body, { mode: 0o755 });
  }
  return dir;
}

test('malformed or unsupported buildpack.toml gives an error naming the file', () => {
  assert.throws(
    () => loadBuildpack(bpDir({ 'buildpack.toml': 'api = "0.10"\n[buildpack\n' })),
    /buildpack\.toml .*is not valid TOML/,
  );
  assert.throws(
    () => loadBuildpack(bpDir({ 'buildpack.toml': 'api = "0.2"\n[buildpack]\nid = "a/b"\n', 'bin/detect': '' })),
    /Buildpack API "0\.2" is not supported/,
  );
  assert.throws(
    () => loadBuildpack(bpDir({ 'buildpack.toml': 'api = "0.10"\n[buildpack]\nid = "app"\n', 'bin/detect': '' })),
    /id "app" is not allowed/,
  );
  assert.throws(() => loadBuildpack(bpDir({ README: 'x' })), /is not a buildpack/);
  const legacy = loadBuildpack(bpDir({ 'bin/detect': '', 'bin/compile': '' }));
  assert.equal(legacy.kind, 'legacy');
});

test('composite orders expand depth first; an optional composite also yields the group without it', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-bps-'));
  const mk = (name: string, toml: string) => {
    fs.mkdirSync(path.join(root, name, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(root, name, 'buildpack.toml'), toml);
    fs.writeFileSync(path.join(root, name, 'bin', 'detect'), '');
  };
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f'])
    mk(id, `api = "0.10"\n[buildpack]\nid = "${id}"\nversion = "1.0.0"\n`);
  mk(
    'o',
    'api = "0.10"\n[buildpack]\nid = "o"\nversion = "1.0.0"\n[[order]]\n[[order.group]]\nid = "a"\n[[order.group]]\nid = "b"\n[[order]]\n[[order.group]]\nid = "c"\n[[order.group]]\nid = "d"\n',
  );
  const index = indexBuildpacks([root]);
  const ids = (groups: ReturnType<typeof expandGroup>) =>
    groups.map((g) => g.map((m) => m.bp.id + (m.optional ? '?' : '')).join(','));
  assert.deepEqual(ids(expandGroup([{ id: 'e' }, { id: 'o' }, { id: 'f' }], index)), ['e,a,b,f', 'e,c,d,f']);
  assert.deepEqual(ids(expandGroup([{ id: 'e' }, { id: 'o', optional: true }], index)), ['e,a?,b?', 'e,c?,d?', 'e']);
  assert.throws(() => expandGroup([{ id: 'missing' }], index), /buildpack "missing" was not found/);
});

test('[[targets]]: missing fields match anything; another os, arch or distro does not match', () => {
  const bp = (targets: string) =>
    loadBuildpack(
      bpDir({
        'buildpack.toml': `api = "0.10"\n[buildpack]\nid = "t/x"\nversion = "1.0.0"\n${targets}`,
        'bin/detect': '',
      }),
    );
  assert.ok(matchesTarget(bp('')));
  assert.ok(matchesTarget(bp('[[targets]]\nos = "linux"\n')));
  assert.ok(
    matchesTarget(
      bp('[[targets]]\nos = "linux"\narch = "amd64"\n[[targets.distros]]\nname = "debian"\nversion = "12"\n'),
    ),
  );
  assert.ok(matchesTarget(bp('[[targets]]\nos = "windows"\n[[targets]]\nos = "linux"\n')));
  assert.ok(!matchesTarget(bp('[[targets]]\nos = "linux"\narch = "arm64"\n')));
  assert.ok(!matchesTarget(bp('[[targets]]\nos = "linux"\n[[targets.distros]]\nname = "ubuntu"\nversion = "22.04"\n')));
});
