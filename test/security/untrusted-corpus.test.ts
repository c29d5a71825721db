import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { build, type BuildOptions } from '../../buildpacks/lifecycle';
import { fetchBuildpack } from '../../buildpacks/lifecycle/fetch';
import { extractArchive } from '../../buildpacks/lifecycle/safe-extract';
import { createTestHome, type TestHome } from '../helpers/home';
import { clientUid, makeTar, makeVictim, snapshot, type Entry } from './hostile';

/**
 * A fuzz-style corpus of hostile file names, link types and metadata values, each through the
 * lifecycle's own entry points (build() for pushed source and in-repo buildpacks, the archive
 * extractor used for fetched buildpacks and pushed source, fetchBuildpack for URLs). Every input
 * aims at a victim directory; after the whole table the victim (and the arena around it) must be
 * byte-for-byte what it was, no error may quote the victim's secret, and no URL may connect.
 */
const base = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';
const docker = new Docker();
const SECRET = `CORPUS-${randomBytes(8).toString('hex')}`;
let home: TestHome;
let arena: string;
let victim: string;
let arenaBefore: string[];
let n = 0;

before(async () => {
  home = await createTestHome('corpus');
  fs.mkdirSync(base, { recursive: true });
  arena = fs.mkdtempSync(path.join(base, 'arena-'));
  victim = makeVictim(arena, SECRET);
  fs.mkdirSync(path.join(arena, 'src'));
  fs.mkdirSync(path.join(arena, 'x'));
  arenaBefore = arenaSnapshot();
});

after(() => {
  home?.cleanup();
  if (arena) fs.rmSync(arena, { recursive: true, force: true });
});

/** The arena minus the inputs (src/) and the extraction targets (x/): the victim and its siblings. */
function arenaSnapshot(): string[] {
  return snapshot(arena).filter((l) => !l.startsWith('src') && !l.startsWith('x'));
}

function opts(sourceDir: string, over: Partial<BuildOptions> = {}): BuildOptions {
  n++;
  return {
    appName: 'sec-corpus',
    sourceDir,
    workspaceDir: path.join(home.builds, `c${n}`),
    cacheDir: path.join(home.caches, `c${n}`),
    store: home.store,
    docker,
    stack: 'bookworm',
    imageRef: `apps/sec-corpus:c${n}`,
    env: {},
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.home },
    output: () => undefined,
    ...over,
  };
}

interface SourceCase {
  name: string;
  files?: Record<string, string>;
  /** name -> target ("$V" is the victim directory). */
  links?: Record<string, string>;
  fifos?: string[];
  /** name -> file in the victim directory. */
  hardlinks?: Record<string, string>;
  expect: RegExp;
}

const bp = (id: string, version: string, extra = '') => ({
  'project.toml': '[[io.buildpacks.group]]\nuri = "./bp"\n',
  'bp/buildpack.toml': `api = "0.10"\n[buildpack]\nid = ${JSON.stringify(id)}\nversion = ${JSON.stringify(version)}\n${extra}`,
  'bp/bin/detect': '#!/bin/sh\nexit 0\n',
  'bp/bin/build': '#!/bin/sh\nexit 0\n',
});
const uri = (u: string) => ({ 'project.toml': `[[io.buildpacks.group]]\nuri = ${JSON.stringify(u)}\n` });
const deep = '../'.repeat(30);

const BAD_VERSIONS = [
  '../../x',
  'a/../../b',
  '%2e%2e',
  '',
  'ü1',
  '1\n2',
  'x'.repeat(300),
  '..',
  '.',
  '$V/pwned',
  `${deep}$V/pwned`,
  '1.0/../../../x',
];
const BAD_IDS = [
  '../../x',
  'a/../../b',
  '/abs',
  'a//b',
  '',
  'ü',
  '.hidden',
  'a/./b',
  'x\ny',
  'app',
  `${deep}$V`,
  'a/..',
];

const SOURCE_CASES: SourceCase[] = [
  {
    name: '.buildpacks -> victim file (absolute)',
    links: { '.buildpacks': '$V/state/secret.key' },
    expect: /\.buildpacks is a symbolic link/,
  },
  { name: '.buildpacks -> /', links: { '.buildpacks': '/' }, expect: /\.buildpacks is a symbolic link/ },
  {
    name: 'app.json -> victim file (relative)',
    links: { 'app.json': `${deep}$V/slipway.env` },
    expect: /app\.json is a symbolic link/,
  },
  {
    name: 'project.toml -> /dev/zero',
    links: { 'project.toml': '/dev/zero' },
    expect: /project\.toml is a symbolic link/,
  },
  {
    name: 'project.toml -> /proc/self/environ',
    links: { 'project.toml': '/proc/self/environ' },
    expect: /project\.toml is a symbolic link/,
  },
  { name: '.buildpacks is a fifo', fifos: ['.buildpacks'], expect: /\.buildpacks is not a regular file/ },
  { name: '.buildpacks is a directory', files: { '.buildpacks/x': '' }, expect: /\.buildpacks is not a regular file/ },
  {
    name: '.buildpacks is a hard link to a victim file',
    hardlinks: { '.buildpacks': 'state/secret.key' },
    expect: /\.buildpacks is a hard link/,
  },
  {
    name: '.buildpacks of 2 MiB',
    files: { '.buildpacks': 'x'.repeat(2 * 1024 * 1024) },
    expect: /\.buildpacks is larger than 1 MiB/,
  },
  {
    name: 'app.json that is not JSON (content not quoted)',
    files: { 'app.json': `${SECRET} {` },
    expect: /app\.json is not valid JSON/,
  },
  {
    name: 'buildpack.toml that is not TOML (content not quoted)',
    files: { ...uri('./bp'), 'bp/buildpack.toml': `${SECRET} = = "` },
    expect: /bp\/buildpack\.toml is not valid TOML/,
  },
  { name: 'uri ../ leaves the app', files: uri('../x'), expect: /points outside the app/ },
  { name: 'uri to the victim (absolute)', files: uri('$V'), expect: /points outside the app|is a path on the server/ },
  { name: 'uri a/../../b', files: uri('bp/../../b'), expect: /points outside the app/ },
  { name: 'uri %2e%2e', files: uri('%2e%2e/x'), expect: /is a link or not a directory in the app/ },
  {
    name: 'uri through a link to the victim',
    files: uri('./bp'),
    links: { bp: '$V' },
    expect: /is a link or not a directory in the app/,
  },
  {
    name: 'uri below a linked directory',
    files: uri('./sub/bp'),
    links: { sub: '$V' },
    expect: /is a link or not a directory in the app/,
  },
  {
    name: 'bin/ of an in-repo buildpack links to the victim',
    files: { ...uri('./bp'), 'bp/README': '' },
    links: { 'bp/bin': '$V', 'bp/buildpack.toml': '$V/slipway.env' },
    expect: /bp\/buildpack\.toml is a symbolic link/,
  },
  ...BAD_VERSIONS.map((v) => ({
    name: `version ${JSON.stringify(v).slice(0, 30)}`,
    files: bp('evil/bp', v),
    expect: /buildpack version .* is not allowed/,
  })),
  ...BAD_IDS.map((id) => ({
    name: `id ${JSON.stringify(id).slice(0, 30)}`,
    files: bp(id, '1.0.0'),
    expect: /buildpack id .* is not allowed/,
  })),
  {
    name: 'order group id ../../x',
    files: bp('ok/composite', '1.0.0', '[[order]]\n[[order.group]]\nid = "../../x"\n'),
    expect: /buildpack id .* is not allowed/,
  },
  {
    name: 'order group version ../../x',
    files: bp('ok/composite', '1.0.0', '[[order]]\n[[order.group]]\nid = "a/b"\nversion = "../../x"\n'),
    expect: /buildpack version .* is not allowed/,
  },
  ...['a/../../b@1', 'x@../../y', '%2e%2e', '@1', 'a\\b'].map((ref) => ({
    name: `.buildpacks ref ${ref}`,
    files: { '.buildpacks': ref },
    expect: /is not a buildpack id, URL or path/,
  })),
  {
    name: '.buildpacks ref ../../x (a path leaving the app)',
    files: { '.buildpacks': '../../x' },
    expect: /points outside the app/,
  },
  {
    name: 'project.toml group id ../../x',
    files: { 'project.toml': '[[io.buildpacks.group]]\nid = "../../x"\nversion = "1"\n' },
    expect: /is not a buildpack id, URL or path/,
  },
];

const abs = (s: string) => s.replace(/\$V/g, victim);

function makeSource(c: SourceCase): string {
  const dir = fs.mkdtempSync(path.join(arena, 'src', 'c-'));
  for (const [name, body] of Object.entries(c.files ?? {})) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, abs(body), { mode: 0o755 });
  }
  for (const [name, target] of Object.entries(c.links ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.symlinkSync(abs(target), path.join(dir, name));
  }
  for (const name of c.fifos ?? []) execFileSync('mkfifo', [path.join(dir, name)]);
  for (const [name, file] of Object.entries(c.hardlinks ?? {}))
    fs.linkSync(path.join(victim, file), path.join(dir, name));
  return dir;
}

test('hostile source trees and buildpack metadata: each refused with a clear message, nothing outside the build touched', async () => {
  const problems: string[] = [];
  for (const c of SOURCE_CASES) {
    const source = makeSource(c);
    try {
      await build(opts(source));
      problems.push(`${c.name}: the build succeeded`);
    } catch (err) {
      const msg = `${(err as Error).message}\n${(err as { hint?: string }).hint ?? ''}`;
      if (!c.expect.test(msg)) problems.push(`${c.name}: ${JSON.stringify(msg)} does not match ${c.expect}`);
      if (msg.includes(SECRET)) problems.push(`${c.name}: the error quotes the victim's secret`);
      if (msg.length > 600) problems.push(`${c.name}: the error is ${msg.length} characters long`);
    }
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(arenaSnapshot(), arenaBefore, 'a file outside the build changed');
});

test('hostile names and links in pushed source are copied as inert entries; the build never writes through them', async () => {
  const source = makeSource({
    name: 'names',
    files: {
      ...bp('evil/names', '1.0.0'),
      // detect fails: the build stops after the source and buildpack were copied and run.
      'bp/bin/detect': '#!/bin/sh\nexit 100\n',
      'new\nline.txt': 'x',
      [`${'n'.repeat(255)}`]: 'x',
      'ünï/cödé.txt': 'x',
      '-rf': 'x',
      ' leading space': 'x',
    },
    links: { root: '/', victim: '$V', up: deep, layers: '$V', Procfile: '$V/slipway.env', dangling: '/nonexistent/x' },
    expect: /./,
  });
  await assert.rejects(build(opts(source)), /no buildpack group detected this app/);
  assert.deepEqual(arenaSnapshot(), arenaBefore, 'a file outside the build changed');
});

interface ArchiveCase {
  name: string;
  entries: Entry[];
  /** Refused in buildpack mode (no links at all)? In source mode (links kept)? */
  refused: [boolean, boolean];
}

const ARCHIVE_CASES: ArchiveCase[] = [
  { name: '../escape', entries: [{ name: '../escape', body: 'x' }], refused: [true, true] },
  { name: 'absolute path', entries: [{ name: '$V/abs', body: 'x' }], refused: [true, true] },
  { name: 'a/../../escape', entries: [{ name: 'a/../../escape', body: 'x' }], refused: [true, true] },
  { name: 'deep traversal', entries: [{ name: `ok/${deep}$V/pwn`, body: 'x' }], refused: [true, true] },
  { name: 'newline in a name', entries: [{ name: 'new\nline', body: 'x' }], refused: [false, false] },
  { name: 'unicode names', entries: [{ name: 'ü/ñ.txt', body: 'x' }], refused: [false, false] },
  { name: '%2e%2e (just a name)', entries: [{ name: '%2e%2e/x', body: 'x' }], refused: [false, false] },
  { name: 'a 300-byte name', entries: [{ name: 'n'.repeat(300), body: 'x' }], refused: [true, true] },
  {
    name: 'symlink to the victim, then a file through it',
    entries: [
      { name: 'l', type: 'symlink', linkname: '$V' },
      { name: 'l/pwn', body: 'x' },
    ],
    refused: [true, true],
  },
  {
    name: 'symlink to the victim, then a dir through it',
    entries: [
      { name: 'l', type: 'symlink', linkname: '$V' },
      { name: 'l/d', type: 'directory' },
    ],
    refused: [true, true],
  },
  { name: 'symlink to /', entries: [{ name: 'root', type: 'symlink', linkname: '/' }], refused: [true, false] },
  {
    name: 'symlink replaced by a file of the same name',
    entries: [
      { name: 'l', type: 'symlink', linkname: '$V/slipway.env' },
      { name: 'l', body: 'x' },
    ],
    refused: [true, false],
  },
  {
    name: 'hard link to a victim file',
    entries: [{ name: 'h', type: 'link', linkname: '$V/slipway.env' }],
    refused: [true, true],
  },
  { name: 'hard link ../', entries: [{ name: 'h', type: 'link', linkname: '../x' }], refused: [true, true] },
  { name: 'fifo', entries: [{ name: 'f', type: 'fifo' }], refused: [true, true] },
  { name: 'character device', entries: [{ name: 'zero', type: 'character-device' }], refused: [true, true] },
  { name: 'block device', entries: [{ name: 'sda', type: 'block-device' }], refused: [true, true] },
  {
    name: 'a file replacing a directory',
    entries: [
      { name: 'd', type: 'directory' },
      { name: 'd/x', body: 'x' },
      { name: 'd', body: 'x' },
    ],
    refused: [true, true],
  },
  {
    name: 'a single top-level symlink (the unwrap case)',
    entries: [{ name: 'bp', type: 'symlink', linkname: '$V' }],
    refused: [true, false],
  },
];

test('hostile archives: links, devices and escaping paths refused; nothing written outside the target', async () => {
  const problems: string[] = [];
  for (const c of ARCHIVE_CASES) {
    const entries = c.entries.map((e) => ({
      ...e,
      name: e.name.replace(/\$V/g, victim.replace(/^\//, '')),
      linkname: e.linkname?.replace(/^\$V/, victim),
    }));
    if (c.name === 'absolute path') entries[0].name = `${victim}/abs`;
    const tgz = await makeTar(entries);
    for (const [mode, allowSymlinks] of [
      [0, false],
      [1, true],
    ] as const) {
      const target = fs.mkdtempSync(path.join(arena, 'x', 't-'));
      let refused = false;
      try {
        await extractArchive(Readable.from([tgz]), target, {
          maxBytes: 1024 * 1024,
          maxFiles: 100,
          gzip: true,
          allowSymlinks,
          label: 'the archive',
        });
      } catch (err) {
        refused = true;
        if (!/the archive was refused: /.test((err as Error).message))
          problems.push(`${c.name}: unexpected error ${(err as Error).message}`);
      }
      if (refused !== c.refused[mode])
        problems.push(
          `${c.name} (${allowSymlinks ? 'source' : 'buildpack'} mode): ${refused ? 'refused' : 'accepted'}`,
        );
      // Whatever was accepted is inside the target; links only where allowed.
      for (const line of snapshot(target))
        if (!allowSymlinks && / link:/.test(line)) problems.push(`${c.name}: a link was created (${line})`);
    }
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(arenaSnapshot(), arenaBefore, 'a file outside the targets changed');
});

test('buildpack URLs on loopback, private, link-local and reserved addresses are refused before any connection', async () => {
  let connections = 0;
  const trap = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  const P = (trap.address() as net.AddressInfo).port;
  const hosts = [
    '127.0.0.1',
    '127.1',
    '0x7f.1',
    '0177.0.0.1',
    '2130706433',
    '127.255.255.254',
    '0.0.0.0',
    '0',
    '[::1]',
    '[::]',
    '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]',
    '[::127.0.0.1]',
    '169.254.169.254',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '[fe80::1]',
    '[fc00::1]',
    '[fd00:ec2::254]',
    'localhost',
    'LOCALHOST',
    'localhost.',
    'foo.localhost',
    os.hostname(),
  ];
  const problems: string[] = [];
  try {
    for (const host of hosts) {
      for (const p of ['/bp.tgz', '/repo.git']) {
        const url = `http://${host}:${P}${p}`;
        try {
          await fetchBuildpack(url, path.join(arena, 'x', 'fetch-cache'));
          problems.push(`${url}: fetched`);
        } catch (err) {
          if (!/was refused: .*(loopback|this machine)/.test((err as Error).message))
            problems.push(`${url}: ${(err as Error).message}`);
        }
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    trap.close();
  }
  assert.deepEqual(problems, []);
  assert.equal(connections, 0);
});

test("a git buildpack URL is cloned with none of the server's git config, credentials or environment", async () => {
  // A bare repository served over git's dumb HTTP protocol on an allowed loopback port.
  const repo = path.join(arena, 'x', 'bp.git');
  const work = fs.mkdtempSync(path.join(arena, 'x', 'work-'));
  fs.mkdirSync(path.join(work, 'bin'));
  fs.writeFileSync(path.join(work, 'buildpack.toml'), 'api = "0.10"\n[buildpack]\nid = "git/bp"\nversion = "1.2.3"\n');
  fs.writeFileSync(path.join(work, 'bin', 'detect'), '#!/bin/sh\n', { mode: 0o755 });
  const g = (args: string[], cwd: string) =>
    execFileSync(
      'git',
      ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args],
      { cwd, env: { PATH: process.env.PATH, HOME: work, GIT_CONFIG_NOSYSTEM: '1' } },
    );
  g(['init', '-q'], work);
  g(['add', '-A'], work);
  g(['commit', '-qm', 'bp'], work);
  g(['clone', '-q', '--bare', work, repo], arena);
  g(['update-server-info'], repo);
  const uids: Array<number | undefined> = [];
  const files = http.createServer((req, res) => {
    uids.push(clientUid(req.socket.remotePort ?? 0));
    const p = path.join(repo, decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/bp\.git/, ''));
    if (!p.startsWith(repo) || !fs.existsSync(p) || fs.statSync(p).isDirectory()) return void res.writeHead(404).end();
    res.end(fs.readFileSync(p));
  });
  let trapped = 0;
  const trap = net.createServer((sock) => {
    trapped++;
    sock.destroy();
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  const port = (files.address() as net.AddressInfo).port;
  const trapPort = (trap.address() as net.AddressInfo).port;
  // The server's own git config (as root's would be) sends every clone of this URL to the trap.
  const rootHome = fs.mkdtempSync(path.join(arena, 'x', 'roothome-'));
  const cfg = `[url "http://127.0.0.1:${trapPort}/"]\n\tinsteadOf = http://127.0.0.1:${port}/\n[credential]\n\thelper = "!echo password=${SECRET}; :"\n`;
  fs.writeFileSync(path.join(rootHome, '.gitconfig'), cfg);
  const saved = { HOME: process.env.HOME, GIT_CONFIG_GLOBAL: process.env.GIT_CONFIG_GLOBAL };
  process.env.HOME = rootHome;
  process.env.GIT_CONFIG_GLOBAL = path.join(rootHome, '.gitconfig');
  try {
    const dir = await fetchBuildpack(`http://127.0.0.1:${port}/bp.git#main`, path.join(arena, 'x', 'git-cache'), {
      allow: [`127.0.0.1:${port}`],
    });
    assert.match(fs.readFileSync(path.join(dir, 'buildpack.toml'), 'utf8'), /id = "git\/bp"/);
    assert.ok(!fs.existsSync(path.join(dir, '.git')));
    assert.equal(trapped, 0, "git used the server's own config");
    // git ran as the unprivileged fetch identity (the test runs as root, as the server does).
    if (process.getuid?.() === 0)
      assert.ok(uids.length > 0 && uids.every((u) => u !== undefined && u !== 0), `uids ${uids}`);
    // A missing repository: git's own reason, no secret from any helper.
    await assert.rejects(
      fetchBuildpack(`http://127.0.0.1:${port}/nope.git`, path.join(arena, 'x', 'git-cache'), {
        allow: [`127.0.0.1:${port}`],
      }),
      (err: Error) => {
        assert.match(err.message, /could not fetch buildpack .*: .*(not found|404|not valid)/i);
        assert.ok(!err.message.includes(SECRET));
        return true;
      },
    );
  } finally {
    process.env.HOME = saved.HOME;
    if (saved.GIT_CONFIG_GLOBAL === undefined) delete process.env.GIT_CONFIG_GLOBAL;
    else process.env.GIT_CONFIG_GLOBAL = saved.GIT_CONFIG_GLOBAL;
    files.close();
    trap.close();
  }
  assert.deepEqual(arenaSnapshot(), arenaBefore, 'a file outside the targets changed');
});
