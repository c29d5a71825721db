import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { availableUpdates, compareVersions, parseSourcesList, readIndexes, stackSources } from '../../stacks/apt-index';
import { recordSuites } from '../../stacks/builder';
import { diffPackages, diffSummary, parsePackages } from '../../server/images/packages';

/**
 * The pieces of the stack update check and the security marking that need no server: Debian
 * version order (against the host's own `dpkg --compare-versions`), indexes read from a file://
 * mirror made here (.xz, .gz and plain), and the suite column the stack builder records.
 */
const PAIRS: Array<[string, string]> = [
  ['1.0', '1.0'],
  ['1.0', '1.1'],
  ['1.0~rc1', '1.0'],
  ['1.0', '1.0+b1'],
  ['2.36-9+deb12u8', '2.36-9+deb12u9'],
  ['2.36-9+deb12u9', '2.36-9+deb12u10'],
  ['3.0.15-1~deb12u1', '3.0.15-1'],
  ['1:1.0', '2.0'],
  ['1.0-1', '1.0-1.1'],
  ['1.0a', '1.0'],
  ['1.0.0', '1.0'],
  ['2025b-0+deb12u1', '2025b-0+deb12u1+slipwaytest1'],
  ['7.88.1-10+deb12u8', '7.88.1-10+deb12u12'],
  ['0~old', '6.4'],
  ['1.2.3-4', '1.2.3-4~bpo12+1'],
];

const dpkg = (a: string, op: string, b: string) => {
  try {
    execFileSync('dpkg', ['--compare-versions', a, op, b]);
    return true;
  } catch {
    return false;
  }
};

test('Debian versions are ordered as dpkg orders them', () => {
  for (const [a, b] of PAIRS) {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      const c = compareVersions(x, y);
      assert.equal(c < 0, dpkg(x, 'lt', y), `${x} < ${y}`);
      assert.equal(c === 0, dpkg(x, 'eq', y), `${x} = ${y}`);
    }
  }
});

test('the sources are the recipe’s: SUITE and SUITE-updates on the mirror, SUITE-security beside it', () => {
  assert.deepEqual(stackSources('bookworm', 'http://m.example/debian/'), [
    { uri: 'http://m.example/debian', suite: 'bookworm' },
    { uri: 'http://m.example/debian', suite: 'bookworm-updates' },
    { uri: 'http://m.example/debian-security', suite: 'bookworm-security' },
  ]);
  assert.equal(stackSources('trixie', 'http://m/debian', 'http://s/sec')[2].uri, 'http://s/sec');
  assert.deepEqual(
    parseSourcesList('deb http://m/debian bookworm main\n# x\ndeb http://m/debian-security bookworm-security main\n'),
    [
      { uri: 'http://m/debian', suite: 'bookworm' },
      { uri: 'http://m/debian-security', suite: 'bookworm-security' },
    ],
  );
});

/** A file:// mirror: bookworm (xz), bookworm-updates (gz), bookworm-security (plain). */
function makeMirror(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-apt-'));
  const write = (top: string, suite: string, text: string, kind: 'xz' | 'gz' | '') => {
    const dir = path.join(root, top, 'dists', suite, 'main', 'binary-amd64');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'Packages'), text);
    if (kind) execFileSync(kind === 'xz' ? 'xz' : 'gzip', [path.join(dir, 'Packages')]);
  };
  const stanza = (n: string, v: string) => `Package: ${n}\nVersion: ${v}\nArchitecture: amd64\nDescription: x\n y\n\n`;
  write(
    'debian',
    'bookworm',
    stanza('libc6', '2.36-9+deb12u8') + stanza('openssl', '3.0.15-1~deb12u1') + stanza('tzdata', '2025a-0+deb12u1'),
    'xz',
  );
  write('debian', 'bookworm-updates', stanza('tzdata', '2025b-0+deb12u1'), 'gz');
  write(
    'debian-security',
    'bookworm-security',
    stanza('openssl', '3.0.15-1~deb12u2') + stanza('openssl', '3.0.14-1~deb12u1'),
    '',
  );
  return root;
}

test('updates: the highest version across the suites above the recorded one, security when it is in -security', async () => {
  const root = makeMirror();
  try {
    const sources = stackSources('bookworm', `file://${root}/debian`);
    const recorded = new Map([
      ['libc6', '2.36-9+deb12u8'],
      ['openssl', '3.0.15-1~deb12u1'],
      ['tzdata', '2025b-0+deb12u1'],
      ['not-on-mirror', '1.0'],
    ]);
    const ix = await readIndexes(sources, new Set(recorded.keys()));
    assert.deepEqual(availableUpdates(recorded, ix), [
      { name: 'openssl', from: '3.0.15-1~deb12u1', to: '3.0.15-1~deb12u2', suite: 'bookworm-security', security: true },
    ]);
    recorded.set('tzdata', '2024a-0+deb12u1');
    assert.deepEqual(
      availableUpdates(recorded, ix).map((u) => [u.name, u.suite, u.security]),
      [
        ['openssl', 'bookworm-security', true],
        ['tzdata', 'bookworm-updates', false],
      ],
    );
    // A suite missing from the mirror is an error, never "no updates".
    await assert.rejects(
      readIndexes(stackSources('trixie', `file://${root}/debian`), null),
      /no package index for trixie/,
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('the stack builder records the suite of each installed version; the diff marks security updates', async () => {
  const root = makeMirror();
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-rootfs-'));
  try {
    fs.mkdirSync(path.join(rootfs, 'etc/apt'), { recursive: true });
    // What build-rootfs.sh writes into the image.
    fs.writeFileSync(
      path.join(rootfs, 'etc/apt/sources.list'),
      `deb file://${root}/debian bookworm main\ndeb file://${root}/debian bookworm-updates main\ndeb file://${root}/debian-security bookworm-security main\n`,
    );
    fs.writeFileSync(
      path.join(rootfs, '.slipway-packages'),
      'libc6 2.36-9+deb12u8\nopenssl 3.0.15-1~deb12u2\ntzdata 2025b-0+deb12u1\nlocal-only 1.0\n',
    );
    const lines: string[] = [];
    await recordSuites(rootfs, new Map(), (l) => lines.push(l));
    const text = fs.readFileSync(path.join(rootfs, '.slipway-packages'), 'utf8');
    assert.equal(
      text,
      'libc6 2.36-9+deb12u8 bookworm\nopenssl 3.0.15-1~deb12u2 bookworm-security\ntzdata 2025b-0+deb12u1 bookworm-updates\nlocal-only 1.0 -\n',
    );
    assert.equal(lines.length, 0, lines.join('\n'));
    const d = diffPackages(
      parsePackages('libc6 2.36-9+deb12u7\nopenssl 3.0.15-1~deb12u1\ntzdata 2025a-0+deb12u1\n'),
      parsePackages(text),
    );
    assert.deepEqual(
      d.updated.map((u) => [u.name, u.security]),
      [
        ['libc6', false],
        ['openssl', true],
        ['tzdata', false],
      ],
    );
    assert.equal(diffSummary(d), '3 packages updated, 1 security, 1 added');

    // Without the mirror the list keeps its two columns and the build goes on, with a warning.
    fs.writeFileSync(path.join(rootfs, '.slipway-packages'), 'libc6 2.36-9+deb12u8\n');
    fs.rmSync(root, { recursive: true, force: true });
    await recordSuites(rootfs, new Map(), (l) => lines.push(l));
    assert.equal(fs.readFileSync(path.join(rootfs, '.slipway-packages'), 'utf8'), 'libc6 2.36-9+deb12u8\n');
    assert.match(lines[0], /could not record which suite each package came from: no package index for bookworm/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
});
