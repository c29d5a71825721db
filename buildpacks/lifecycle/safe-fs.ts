import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';

/**
 * Host-side access to files that buildpacks (running as uid 1000 in the build container) can
 * write. The host runs as root, so a buildpack that plants a symlink such as
 * layers/bp/env.launch/X -> /var/lib/slipway/state/secret.key must never make the host read or
 * write through it. Every such path is resolved and must stay inside the workspace (or cache)
 * root; the final component is opened with O_NOFOLLOW. The build container is frozen (docker
 * pause) whenever the host touches these files, so nothing can swap a path between check and use.
 */
const realRoots = new Map<string, string>();
function realRoot(root: string): string {
  let r = realRoots.get(root);
  if (!r) realRoots.set(root, (r = fs.realpathSync(root)));
  return r;
}

function outside(p: string): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `a buildpack made ${p} point outside the build workspace (symlink)`, {
    hint: 'buildpacks may not link platform files to paths outside /app, /layers and /cache',
    details: { phase: 'build', file: p },
  });
}

export function assertInside(root: string, p: string): void {
  const r = realRoot(root);
  const real = fs.realpathSync(p);
  if (real !== r && !real.startsWith(r + path.sep)) throw outside(p);
}

export function existsIn(root: string, p: string): boolean {
  try {
    fs.lstatSync(p);
  } catch {
    return false;
  }
  assertInside(root, p);
  return true;
}

/** Files a build wrote (SBOMs, env files, TOML): at most 16 MiB each unless told otherwise. */
export const BUILD_FILE_MAX_BYTES = 16 * 1024 * 1024;

export function readFileIn(root: string, p: string, maxBytes = BUILD_FILE_MAX_BYTES): string {
  assertInside(root, path.dirname(p));
  let fd: number;
  try {
    // O_NONBLOCK: a fifo planted by a buildpack must not block the host's open().
    fd = fs.openSync(
      p,
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw outside(p);
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile())
      throw new SlipwayError('BUILD_FAILED', `${p} is not a regular file`, { details: { phase: 'build', file: p } });
    if (st.size > maxBytes) {
      throw new SlipwayError('BUILD_FAILED', `${p} is larger than ${formatBytes(maxBytes)}`, {
        hint: 'buildpacks must keep platform files small',
        details: { phase: 'build', file: p },
      });
    }
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFileIn(
  root: string,
  p: string,
  data: string,
  opts: { append?: boolean; mode?: number } = {},
): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  assertInside(root, path.dirname(p));
  const flags =
    fs.constants.O_WRONLY |
    fs.constants.O_CREAT |
    fs.constants.O_NOFOLLOW |
    (opts.append ? fs.constants.O_APPEND : fs.constants.O_TRUNC);
  let fd: number;
  try {
    fd = fs.openSync(p, flags, opts.mode ?? 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw outside(p);
    throw err;
  }
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The one reader for files the host takes from untrusted trees: the pushed source, buildpacks
 * (in the repo or fetched) and what a build wrote. No link is followed (every component below
 * `root` is lstat'ed and the file is opened with O_NOFOLLOW), the file must be a regular file
 * inside `root`, and at most `maxBytes` are read (a fifo or device is refused before any read,
 * so `.buildpacks -> /dev/zero` fails at once instead of filling memory). Errors name the file by
 * its path in the tree, never its content. Returns undefined when the file does not exist.
 */
export const METADATA_MAX_BYTES = 1024 * 1024;

export function untrustedFileError(rel: string, why: string, hint?: string): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `${rel} ${why}`, {
    hint:
      hint ??
      'commit it as a regular file inside the app (symbolic links, devices and fifos are not read by the platform)',
    details: { phase: 'detect', file: rel },
  });
}

export function readUntrusted(
  root: string,
  rel: string,
  opts: { maxBytes?: number; label?: string } = {},
): string | undefined {
  const max = opts.maxBytes ?? METADATA_MAX_BYTES;
  const label = opts.label ?? rel;
  const parts = rel.split('/').filter((p) => p && p !== '.');
  if (parts.length === 0 || parts.includes('..')) throw untrustedFileError(label, 'is not a path inside the tree');
  // Every directory on the way must be a real directory (no link to elsewhere).
  let cur = root;
  for (const dir of parts.slice(0, -1)) {
    cur = path.join(cur, dir);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) throw untrustedFileError(label, 'is inside a symbolic link');
    if (!st.isDirectory()) return undefined;
  }
  const file = path.join(cur, parts[parts.length - 1]);
  let fd: number;
  try {
    fd = fs.openSync(
      file,
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') throw untrustedFileError(label, 'is a symbolic link');
    throw untrustedFileError(label, `could not be read (${code ?? 'error'})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw untrustedFileError(label, 'is not a regular file');
    // A second name for someone else's file (never made by git or the safe extractor).
    if (st.nlink > 1) throw untrustedFileError(label, 'is a hard link');
    if (st.size > max)
      throw untrustedFileError(label, `is larger than ${formatBytes(max)}`, `keep ${label} under ${formatBytes(max)}`);
    // Read at most max + 1 bytes whatever fstat said (the size could change under us).
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let n = 0;
    for (let r; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    if (n > max)
      throw untrustedFileError(label, `is larger than ${formatBytes(max)}`, `keep ${label} under ${formatBytes(max)}`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether rel exists below root as a regular file or directory reached without any link. */
export function isPlainIn(root: string, rel: string, kind: 'file' | 'directory'): boolean {
  let cur = root;
  for (const p of rel.split('/').filter((x) => x && x !== '.')) {
    if (p === '..') return false;
    cur = path.join(cur, p);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch {
      return false;
    }
    if (st.isSymbolicLink()) return false;
    if (cur !== path.join(root, rel) && !st.isDirectory()) return false;
  }
  const st = fs.lstatSync(cur);
  return kind === 'file' ? st.isFile() : st.isDirectory();
}

/** A value from an untrusted file quoted for a message: JSON-escaped, at most ~40 characters. */
export function excerpt(value: string, max = 40): string {
  return JSON.stringify(value.length > max ? value.slice(0, max) + '…' : value);
}

export function formatBytes(n: number): string {
  return n >= 1024 * 1024
    ? `${Math.round(n / 1024 / 1024)} MiB`
    : n >= 1024
      ? `${Math.round(n / 1024)} KiB`
      : `${n} bytes`;
}
