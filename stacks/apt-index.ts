import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SlipwayError } from '../common/errors';

/**
 * The Debian mirror's package indexes, read from the host without apt: what the stack update
 * check compares the recorded package lists with, and what tells a stack build which suite each
 * installed version came from (`bookworm-security` marks security updates). The sources are the
 * ones the stack recipe (build-rootfs.sh) writes into the image: SUITE, SUITE-updates and
 * SUITE-security, component main. Indexes are Packages.xz (xz on the host), .gz or plain, over
 * http(s):// or file://. Unsigned reads: at worst a forged index makes the check report an update
 * and start a rebuild, whose apt verifies everything it installs.
 */
export interface AptSource {
  uri: string;
  suite: string;
}

/** name → version as recorded, and the suite of that version when known. */
export interface RecordedPackage {
  version: string;
  suite?: string;
}

/** The recipe's mirror when SLIPWAY_DEBIAN_MIRROR is unset: the host's Debian source, else deb.debian.org. */
export function defaultMirror(): string {
  try {
    const text = fs.readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
    const m = /^URIs: *(http\S*\/debian)$/m.exec(text);
    if (m) return m[1];
  } catch {
    // no deb822 sources on this host
  }
  return 'http://deb.debian.org/debian';
}

/** The three sources build-rootfs.sh writes for SUITE (same defaults). */
export function stackSources(suite: string, mirror?: string, securityMirror?: string): AptSource[] {
  const m = (mirror ?? defaultMirror()).replace(/\/+$/, '');
  const sec = (securityMirror ?? `${m.replace(/\/debian$/, '')}/debian-security`).replace(/\/+$/, '');
  return [
    { uri: m, suite },
    { uri: m, suite: `${suite}-updates` },
    { uri: sec, suite: `${suite}-security` },
  ];
}

/** `deb URI SUITE main` lines of a sources.list (what the recipe wrote into the image). */
export function parseSourcesList(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const line of text.split('\n')) {
    const m = /^deb\s+(\S+)\s+(\S+)\s+.*\bmain\b/.exec(line.trim());
    if (m) out.push({ uri: m[1].replace(/\/+$/, ''), suite: m[2] });
  }
  return out;
}

export const isSecuritySuite = (suite: string | undefined) => !!suite && /-security$/.test(suite);

// --- Debian version comparison (deb-version(7), as dpkg --compare-versions) ---

const order = (c: string) =>
  c === '~' ? -1 : /[0-9]/.test(c) ? 0 : /[A-Za-z]/.test(c) ? c.charCodeAt(0) : c ? c.charCodeAt(0) + 256 : 0;

function cmpPart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let diff = 0;
    while ((i < a.length && !/[0-9]/.test(a[i])) || (j < b.length && !/[0-9]/.test(b[j]))) {
      const ac = order(a[i] ?? '');
      const bc = order(b[j] ?? '');
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (i < a.length && /[0-9]/.test(a[i]) && j < b.length && /[0-9]/.test(b[j])) {
      if (!diff) diff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && /[0-9]/.test(a[i])) return 1;
    if (j < b.length && /[0-9]/.test(b[j])) return -1;
    if (diff) return diff;
  }
  return 0;
}

function split(v: string): [number, string, string] {
  const c = v.indexOf(':');
  const epoch = c > 0 ? Number(v.slice(0, c)) || 0 : 0;
  const rest = c > 0 ? v.slice(c + 1) : v;
  const d = rest.lastIndexOf('-');
  return d >= 0 ? [epoch, rest.slice(0, d), rest.slice(d + 1)] : [epoch, rest, ''];
}

/** < 0, 0, > 0 as Debian orders versions (epoch, upstream, revision; `~` sorts before everything). */
export function compareVersions(a: string, b: string): number {
  const [ea, ua, ra] = split(a);
  const [eb, ub, rb] = split(b);
  return ea - eb || cmpPart(ua, ub) || cmpPart(ra, rb);
}

// --- Reading indexes ---

const MAX_INDEX_BYTES = 512 * 1024 * 1024;

function decompress(kind: 'xz' | 'gz' | '', input: Readable): Readable {
  if (kind === 'gz') return input.pipe(createGunzip());
  if (kind === '') return input;
  const xz = spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
  input.on('error', (e) => xz.stdout.destroy(e));
  xz.on('error', (e) =>
    xz.stdout.destroy(
      new SlipwayError('INTERNAL', `xz could not run: ${e.message}`, { hint: 'install xz-utils on the server' }),
    ),
  );
  xz.stdin.on('error', () => undefined);
  input.pipe(xz.stdin);
  return xz.stdout;
}

/** The index body as a stream, trying Packages.xz, .gz and plain in turn; undefined when none exists. */
async function openIndex(src: AptSource, arch: string, timeoutMs: number): Promise<Readable | undefined> {
  const base = `${src.uri}/dists/${src.suite}/main/binary-${arch}/Packages`;
  for (const kind of ['xz', 'gz', ''] as const) {
    const url = kind ? `${base}.${kind}` : base;
    if (url.startsWith('file://')) {
      const file = decodeURIComponent(new URL(url).pathname);
      if (fs.existsSync(file)) return decompress(kind, fs.createReadStream(file));
      continue;
    }
    if (!/^https?:\/\//.test(url))
      throw new SlipwayError('CONFIG_INVALID', `the mirror ${src.uri} is not an http(s):// or file:// URL`, {
        hint: 'set SLIPWAY_DEBIAN_MIRROR to a Debian mirror such as http://deb.debian.org/debian',
      });
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 404 || res.status === 403) {
      await res.body?.cancel();
      continue;
    }
    if (!res.ok || !res.body) throw new Error(`GET ${url} answered ${res.status}`);
    return decompress(kind, Readable.fromWeb(res.body as import('node:stream/web').ReadableStream));
  }
  return undefined;
}

/**
 * Versions of the wanted packages (null: all) in one suite's index (name → versions). A missing index is an
 * error: a suite that does not exist on the mirror must not read as "no updates".
 */
export async function readIndex(
  src: AptSource,
  wanted: Set<string> | null,
  opts: { arch?: string; timeoutMs?: number } = {},
): Promise<Map<string, string[]>> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const stream = await openIndex(src, opts.arch ?? 'amd64', timeoutMs);
  if (!stream)
    throw new SlipwayError('NOT_FOUND', `no package index for ${src.suite} at ${src.uri}`, {
      hint: `check SLIPWAY_DEBIAN_MIRROR / SLIPWAY_DEBIAN_SECURITY_MIRROR (tried ${src.uri}/dists/${src.suite}/main/binary-${opts.arch ?? 'amd64'}/Packages.xz, .gz and plain)`,
    });
  const out = new Map<string, string[]>();
  let name = '';
  let version = '';
  const flush = () => {
    if (name && version && (!wanted || wanted.has(name))) out.set(name, [...(out.get(name) ?? []), version]);
    name = version = '';
  };
  let rest = '';
  let bytes = 0;
  const timer = setTimeout(
    () => stream.destroy(new Error(`reading ${src.suite} from ${src.uri} took over ${timeoutMs / 1000} s`)),
    timeoutMs,
  );
  try {
    for await (const chunk of stream) {
      bytes += (chunk as Buffer).length;
      if (bytes > MAX_INDEX_BYTES) throw new Error(`the ${src.suite} index at ${src.uri} is over 512 MB`);
      const lines = (rest + (chunk as Buffer).toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') flush();
        else if (line.startsWith('Package: ')) name = line.slice(9).trim();
        else if (line.startsWith('Version: ')) version = line.slice(9).trim();
      }
    }
  } finally {
    clearTimeout(timer);
  }
  if (rest.startsWith('Version: ')) version = rest.slice(9).trim();
  flush();
  return out;
}

export interface SuiteIndexes {
  sources: AptSource[];
  /** Per source (same order): name → versions. */
  versions: Array<Map<string, string[]>>;
}

/** Reads every source's index for these packages, all at once. */
export async function readIndexes(
  sources: AptSource[],
  wanted: Set<string> | null,
  timeoutMs?: number,
): Promise<SuiteIndexes> {
  return { sources, versions: await Promise.all(sources.map((s) => readIndex(s, wanted, { timeoutMs }))) };
}

/** The suite holding exactly this version (a security suite first: the same version may be in both). */
export function suiteOf(ix: SuiteIndexes, name: string, version: string): string | undefined {
  const holding = ix.sources.filter((_, i) => ix.versions[i].get(name)?.includes(version)).map((s) => s.suite);
  return holding.find(isSecuritySuite) ?? holding[0];
}

export interface AvailableUpdate {
  name: string;
  from: string;
  to: string;
  suite: string;
  security: boolean;
}

/** Packages whose highest version across the sources is above the recorded one (what apt would upgrade). */
export function availableUpdates(recorded: Map<string, string>, ix: SuiteIndexes): AvailableUpdate[] {
  const out: AvailableUpdate[] = [];
  for (const [name, from] of [...recorded].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let best: string | undefined;
    for (const m of ix.versions) for (const v of m.get(name) ?? []) if (!best || compareVersions(v, best) > 0) best = v;
    if (best && compareVersions(best, from) > 0) {
      const suite = suiteOf(ix, name, best)!;
      out.push({ name, from, to: best, suite, security: isSecuritySuite(suite) });
    }
  }
  return out;
}
