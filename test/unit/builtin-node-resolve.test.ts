import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BUILTIN_DIR, REPO_ROOT } from '../helpers/run-buildpack';

// Version decisions of the Node.js buildpack: resolve.js (with the same semver package npm uses)
// and the bash helpers for the default LTS line and the bundled npm major.

const RESOLVE = path.join(BUILTIN_DIR, 'nodejs', 'lib', 'resolve.js');
const SEMVER = path.join(REPO_ROOT, 'node_modules', 'semver');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resolve-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function packument(versions: Record<string, object>): string {
  const file = path.join(tmp, `p${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify({ versions }));
  return file;
}
const NODE = packument(
  Object.fromEntries(
    ['18.20.8', '20.5.0', '20.19.0', '20.20.2', '21.7.3', '22.0.0', '22.23.3', '24.21.0', '26.12.1', '27.0.0-rc.1'].map(
      (v) => [v, {}],
    ),
  ),
);

function resolve(...args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [RESOLVE, SEMVER, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout.trim() };
}

test('node ranges resolve to the newest stable match', () => {
  const cases: Array<[string, string]> = [
    ['18.x', '18.20.8'],
    ['>=22 <23', '22.23.3'],
    ['^20.5', '20.20.2'],
    ['~20.19.0', '20.19.0'],
    ['20 || 22', '22.23.3'],
    ['*', '26.12.1'],
    ['>=20', '26.12.1'],
    ['20.19.0', '20.19.0'],
    ['<21', '20.20.2'],
    ['22.0.0 - 22.5', '22.0.0'],
  ];
  for (const [range, want] of cases) assert.deepEqual(resolve('node', range, NODE), { code: 0, out: want }, range);
});

test('an invalid range exits 2, an unsatisfiable one 3', () => {
  assert.equal(resolve('node', 'twenty', NODE).code, 2);
  assert.equal(resolve('node', '99.x', NODE).code, 3);
  assert.equal(resolve('node', '27.x', NODE).code, 3, 'prereleases are never picked');
});

test('npm: the newest in the range whose engines accept the Node version', () => {
  const npm = packument({
    '10.8.0': { engines: { node: '^18.17.0 || >=20.5.0' } },
    '10.9.9': { engines: { node: '^18.17.0 || >=20.5.0' } },
    '11.21.2': { engines: { node: '^20.17.0 || >=22.9.0' } },
    '9.9.4': { engines: { node: '^14.17.0 || ^16.13.0 || >=18.0.0' } },
  });
  assert.equal(resolve('npm', '10.x', '20.19.0', npm).out, '10.9.9');
  assert.equal(resolve('npm', '11.x', '26.12.1', npm).out, '11.21.2');
  assert.equal(resolve('npm', '>=10', '20.5.0', npm).out, '10.9.9', '11 needs Node ^20.17');
  assert.equal(resolve('npm', '11.x', '18.20.8', npm).code, 3);
});

function bash(script: string): string {
  const lib = path.join(BUILTIN_DIR, 'nodejs', 'lib');
  return spawnSync('bash', ['-c', `source ${lib}/common.sh; source ${lib}/node.sh; ${script}`], {
    encoding: 'utf8',
  }).stdout.trim();
}

test("the default is the newest LTS major on Node's schedule (even majors, LTS from October)", () => {
  const versions = path.join(tmp, 'versions');
  fs.writeFileSync(versions, ['20.20.2', '22.23.3', '24.21.0', '25.9.0', '26.12.1'].join('\n'));
  const at = (ym: string) =>
    bash(
      `date() { case "$2" in +%Y) echo ${ym.slice(0, 4)};; +%-m) echo ${Number(ym.slice(5))};; esac; }; lts_major ${versions}`,
    );
  assert.equal(at('2026-11'), '26');
  assert.equal(at('2026-09'), '24', '26 is "current" until October');
  assert.equal(at('2025-10'), '24');
  assert.equal(at('2025-03'), '22');
});

test('the npm major bundled with each Node line', () => {
  const cases: Array<[string, string]> = [
    ['26.12.1', '11.x'],
    ['24.0.0', '11.x'],
    ['22.23.3', '10.x'],
    ['20.19.0', '10.x'],
    ['20.4.0', '9.x'],
    ['18.20.8', '10.x'],
    ['18.12.0', '9.x'],
    ['16.20.2', '8.x'],
    ['14.21.3', '6.x'],
  ];
  for (const [node, npm] of cases) assert.equal(bash(`bundled_npm_range ${node}`), npm, node);
});
