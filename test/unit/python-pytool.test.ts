import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { matchesTarget, targetFor, loadBuildpack } from '../../buildpacks/lifecycle/buildpacks';
import { knownStacks, stackInfo } from '../../stacks/info';

// slipway/python's helper (lib/pytool.py: requires-python and the lock converters), run with the
// host's python3 as the build image runs it with its own; and the stack facts the lifecycle uses.
const TOOL = path.resolve(__dirname, '..', '..', '..', 'buildpacks', 'builtin', 'python', 'lib', 'pytool.py');
const BP = path.resolve(__dirname, '..', '..', '..', 'buildpacks', 'builtin');
const tool = (...args: string[]) => spawnSync('python3', [TOOL, ...args], { encoding: 'utf8' });
const tmp = (name: string, text: string) => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pytool-')), name);
  fs.writeFileSync(f, text);
  return f;
};

test('requires-python specifiers: >=, <, ~=, ==X.Y.*, !=, combined', () => {
  const yes: Array<[string, string]> = [
    ['>=3.9', '3.11.2'],
    ['>=3.9,<3.12', '3.11.2'],
    ['~=3.11', '3.11.2'],
    ['==3.11.*', '3.11.2'],
    ['!=3.10.*', '3.11.2'],
    ['>3.11', '3.11.2'],
    ['', '3.13.1'],
  ];
  const no: Array<[string, string]> = [
    ['>=3.12', '3.11.2'],
    ['<3.11', '3.11.2'],
    ['~=3.12.0', '3.13.1'],
    ['==3.12.*', '3.13.1'],
    ['>=3.9,<3.13', '3.13.1'],
  ];
  for (const [spec, v] of yes) assert.equal(tool('satisfies', spec, v).status, 0, `${spec} ${v}`);
  for (const [spec, v] of no) assert.equal(tool('satisfies', spec, v).status, 1, `${spec} ${v}`);
  assert.equal(tool('satisfies', 'about 3', '3.11.2').status, 2);
});

test('poetry.lock with groups (poetry 2): only the main group, hashes kept, markers of the main group', () => {
  const lock = tmp(
    'poetry.lock',
    `[[package]]\nname = "a"\nversion = "1.0"\ngroups = ["main"]\nmarkers = {main = "python_version >= '3.8'"}\nfiles = [{file = "a.whl", hash = "sha256:aa"}]\n\n[[package]]\nname = "b"\nversion = "2.0"\ngroups = ["dev"]\nfiles = [{file = "b.whl", hash = "sha256:bb"}]\n`,
  );
  const r = tool('poetry-lock', lock);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `a==1.0 ; python_version >= '3.8' \\\n    --hash=sha256:aa`);
});

test("uv.lock: the project's transitive dependencies with edge markers, not dev-dependencies; one unhashed entry drops hashes with a note", () => {
  const lock = tmp(
    'uv.lock',
    [
      '[[package]]\nname = "app"\nversion = "0.1"\nsource = { editable = "." }\ndependencies = [{ name = "a" }, { name = "c", marker = "sys_platform == \'linux\'" }]\n[package.dev-dependencies]\ndev = [{ name = "d" }]\n',
      '[[package]]\nname = "a"\nversion = "1"\nsource = { registry = "https://pypi.org/simple" }\ndependencies = [{ name = "b" }]\nwheels = [{ url = "https://x/a.whl", hash = "sha256:a1" }]\n',
      '[[package]]\nname = "b"\nversion = "2"\nsource = { registry = "https://pypi.org/simple" }\nsdist = { url = "https://x/b.tgz", hash = "sha256:b1" }\n',
      '[[package]]\nname = "c"\nversion = "3"\nsource = { registry = "https://pypi.org/simple" }\nwheels = [{ url = "https://x/c.whl", hash = "sha256:c1" }]\n',
      '[[package]]\nname = "d"\nversion = "4"\nsource = { registry = "https://pypi.org/simple" }\nwheels = [{ url = "https://x/d.whl", hash = "sha256:d1" }]\n',
    ].join('\n'),
  );
  const r = tool('uv-lock', lock);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout.trim(),
    "a==1 \\\n    --hash=sha256:a1\nb==2 \\\n    --hash=sha256:b1\nc==3 ; sys_platform == 'linux' \\\n    --hash=sha256:c1",
  );
  const pip = tmp(
    'Pipfile.lock',
    JSON.stringify({ default: { a: { version: '==1', hashes: ['sha256:a1'] }, local: { path: '.', editable: true } } }),
  );
  const p = tool('pipfile-lock', pip);
  assert.equal(p.status, 0, p.stderr);
  assert.equal(p.stdout.trim(), 'a==1\n-e .');
  assert.match(p.stderr, /local has no hashes in the lock file; installing without hash checks/);
});

test("stacks: bookworm is Debian 12 and trixie Debian 13; buildpack targets are matched against the app's stack", () => {
  assert.deepEqual(knownStacks(), ['bookworm', 'trixie']);
  assert.equal(stackInfo('trixie').distroVersion, '13');
  assert.throws(() => stackInfo('jessie'), /there is no stack "jessie"/);
  const only12 = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-'));
  fs.cpSync(path.join(BP, 'procfile'), only12, { recursive: true });
  fs.writeFileSync(
    path.join(only12, 'buildpack.toml'),
    'api = "0.10"\n[buildpack]\nid = "test/only12"\nversion = "1.0.0"\n[[targets]]\nos = "linux"\n[[targets.distros]]\nname = "debian"\nversion = "12"\n',
  );
  const bp = loadBuildpack(only12);
  assert.ok(matchesTarget(bp, targetFor('bookworm')));
  assert.ok(!matchesTarget(bp, targetFor('trixie')));
  for (const name of ['python', 'go', 'nodejs', 'apt', 'static']) {
    assert.ok(matchesTarget(loadBuildpack(path.join(BP, name)), targetFor('trixie')), `${name} runs on trixie`);
  }
});
