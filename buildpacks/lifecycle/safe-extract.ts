import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { SlipwayError } from '../../common/errors';
import { excerpt, formatBytes } from './safe-fs';

/**
 * Extracting archives the platform did not make (fetched buildpacks, pushed source) as root
 * without trusting them: only regular files and directories (symbolic links only where the
 * caller allows them, and never as a way into a later entry), no hard links, devices or fifos,
 * no absolute names and no "..", every parent created here as a real directory, and caps on the
 * extracted bytes (checked against each header before anything is written, so a bomb is refused
 * without inflating it) and the number of entries. Nothing is written outside `dir`.
 */
export interface ExtractLimits {
  maxBytes: number;
  maxFiles: number;
  /** Keep symbolic links as links (pushed source); they are never followed here. */
  allowSymlinks?: boolean;
  gzip?: boolean;
  /** Names the archive in errors ("the buildpack archive"). */
  label: string;
}

export const BUILDPACK_ARCHIVE_LIMITS = { maxBytes: 512 * 1024 * 1024, maxFiles: 20_000 };

function refused(label: string, why: string, hint = 'build the archive from regular files and directories only'): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `${label} was refused: ${why}`, { hint, details: { phase: 'detect' } });
}

/** The entry's path split into safe components, or an error. Empty for the archive root ("./"). */
export function entryParts(name: string, label: string): string[] {
  if (name.includes('\0')) throw refused(label, 'an entry name holds a NUL byte');
  if (name.startsWith('/')) throw refused(label, `entry ${excerpt(name)} has an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refused(label, `entry ${excerpt(name)} leaves the archive (..)`);
  if (parts.some((p) => Buffer.byteLength(p) > 255)) throw refused(label, `entry ${excerpt(name)} has a name longer than 255 bytes`);
  return parts;
}

export async function extractArchive(source: Readable, dir: string, limits: ExtractLimits): Promise<{ files: number; bytes: number }> {
  const { label } = limits;
  fs.mkdirSync(dir, { recursive: true });
  let files = 0;
  let bytes = 0;
  const tooBig = () => refused(label, `it expands to more than ${formatBytes(limits.maxBytes)}`, `keep it under ${formatBytes(limits.maxBytes)} and ${limits.maxFiles} entries`);

  /** Makes every parent of parts a directory created here; a link or file on the way is refused. */
  const parentOf = (parts: string[], name: string): string => {
    let cur = dir;
    for (const p of parts.slice(0, -1)) {
      cur = path.join(cur, p);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(cur);
      } catch {
        fs.mkdirSync(cur, { mode: 0o755 });
        continue;
      }
      if (!st.isDirectory()) throw refused(label, `entry ${excerpt(name)} goes through a link or file`);
    }
    return cur;
  };
  /** A later entry of the same name replaces a file or link (never a directory, never through it). */
  const clear = (p: string, name: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) throw refused(label, `entry ${excerpt(name)} replaces a directory`);
    fs.unlinkSync(p);
  };

  const ex = extract();
  ex.on('entry', (h: Header, stream, next) => {
    const fail = (err: Error) => {
      stream.resume();
      next(err);
    };
    try {
      const parts = entryParts(h.name, label);
      const type = h.type ?? 'file';
      if (++files > limits.maxFiles) throw refused(label, `it has more than ${limits.maxFiles} entries`, `keep it under ${limits.maxFiles} entries`);
      if (parts.length === 0) {
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      const target = path.join(parentOf(parts, h.name), parts[parts.length - 1]);
      if (type === 'directory') {
        const st = fs.lstatSync(target, { throwIfNoEntry: false });
        if (st && !st.isDirectory()) throw refused(label, `entry ${excerpt(h.name)} goes through a link or file`);
        if (!st) fs.mkdirSync(target, { mode: 0o755 });
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      if (type === 'symlink' && limits.allowSymlinks) {
        clear(target, h.name);
        fs.symlinkSync(h.linkname ?? '', target);
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      if (type !== 'file' && type !== 'contiguous-file') {
        const kind = { symlink: 'a symbolic link', link: 'a hard link', 'character-device': 'a device', 'block-device': 'a device', fifo: 'a fifo' }[type as string] ?? `of type ${type}`;
        throw refused(label, `entry ${excerpt(h.name)} is ${kind}`);
      }
      bytes += h.size ?? 0;
      if (bytes > limits.maxBytes) throw tooBig();
      clear(target, h.name);
      // O_EXCL | O_NOFOLLOW: the file is new, made here, never through a link.
      const mode = 0o644 | ((h.mode ?? 0) & 0o111 ? 0o111 : 0);
      const fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
      const out = fs.createWriteStream('', { fd });
      pipeline(stream, out).then(() => next(), (err: Error) => next(err));
    } catch (err) {
      fail(err as Error);
    }
  });

  // The inflated stream is capped too: padding and headers cannot be used as a bomb either.
  const inflatedMax = limits.maxBytes + limits.maxFiles * 1536 + 1024 * 1024;
  let inflated = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      inflated += chunk.length;
      cb(inflated > inflatedMax ? tooBig() : null, chunk);
    },
  });
  try {
    if (limits.gzip) await pipeline(source, zlib.createGunzip(), cap, ex);
    else await pipeline(source, cap, ex);
  } catch (err) {
    if (err instanceof SlipwayError) throw err;
    throw refused(label, `it is not a valid ${limits.gzip ? 'gzip-compressed ' : ''}tar archive (${(err as Error).message.split('\n')[0].slice(0, 80)})`, 'check that the URL serves a .tgz archive');
  }
  return { files, bytes };
}
