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
  /** Check names, types and caps only; write nothing (a first pass over a downloaded file). */
  dryRun?: boolean;
}

export const BUILDPACK_ARCHIVE_LIMITS = { maxBytes: 512 * 1024 * 1024, maxFiles: 20_000 };

function refused(
  label: string,
  why: string,
  hint = 'build the archive from regular files and directories only',
): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `${label} was refused: ${why}`, { hint, details: { phase: 'detect' } });
}

/** The entry's path split into safe components, or an error. Empty for the archive root ("./"). */
export function entryParts(name: string, label: string): string[] {
  if (name.includes('\0')) throw refused(label, 'an entry name holds a NUL byte');
  if (name.startsWith('/')) throw refused(label, `entry ${excerpt(name)} has an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refused(label, `entry ${excerpt(name)} leaves the archive (..)`);
  if (parts.some((p) => Buffer.byteLength(p) > 255))
    throw refused(label, `entry ${excerpt(name)} has a name longer than 255 bytes`);
  return parts;
}

export async function extractArchive(
  source: Readable,
  dir: string,
  limits: ExtractLimits,
): Promise<{ files: number; bytes: number }> {
  const { label } = limits;
  if (!limits.dryRun) fs.mkdirSync(dir, { recursive: true });
  let files = 0;
  let bytes = 0;
  const tooBig = () =>
    refused(
      label,
      `it expands to more than ${formatBytes(limits.maxBytes)}`,
      `keep it under ${formatBytes(limits.maxBytes)} and ${limits.maxFiles} entries`,
    );

  /** Directories (relative) known to be real directories made here: skips the lstat per entry. */
  const known = new Set<string>(['']);
  /** Makes every parent of parts a directory created here; a link or file on the way is refused. */
  const parentOf = (parts: string[], name: string): string => {
    let rel = '';
    for (const p of parts.slice(0, -1)) {
      rel = rel ? `${rel}/${p}` : p;
      if (known.has(rel)) continue;
      const cur = path.join(dir, rel);
      const st = fs.lstatSync(cur, { throwIfNoEntry: false });
      if (!st) fs.mkdirSync(cur, { mode: 0o755 });
      else if (!st.isDirectory()) throw refused(label, `entry ${excerpt(name)} goes through a link or file`);
      known.add(rel);
    }
    return path.join(dir, ...parts.slice(0, -1));
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
  // O_EXCL | O_NOFOLLOW: every file is new, made here, never written through a link.
  const create = (p: string, mode: number) =>
    fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);

  const ex = extract();
  ex.on('entry', (h: Header, stream, next) => {
    // A refused entry destroys the extractor, which errors this entry's stream too: that error is
    // the one already reported, and an unhandled 'error' event would take the server down.
    stream.on('error', () => undefined);
    const fail = (err: Error) => {
      stream.resume();
      next(err);
    };
    try {
      const parts = entryParts(h.name, label);
      const type = h.type ?? 'file';
      if (++files > limits.maxFiles)
        throw refused(label, `it has more than ${limits.maxFiles} entries`, `keep it under ${limits.maxFiles} entries`);
      if (
        parts.length === 0 ||
        (limits.dryRun && (type === 'directory' || (type === 'symlink' && limits.allowSymlinks)))
      ) {
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      const target = path.join(parentOf(parts, h.name), parts[parts.length - 1]);
      if (type === 'directory') {
        const st = fs.lstatSync(target, { throwIfNoEntry: false });
        if (st && !st.isDirectory()) throw refused(label, `entry ${excerpt(h.name)} goes through a link or file`);
        if (!st) fs.mkdirSync(target, { mode: 0o755 });
        known.add(parts.join('/'));
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
        const kind =
          {
            symlink: 'a symbolic link',
            link: 'a hard link',
            'character-device': 'a device',
            'block-device': 'a device',
            fifo: 'a fifo',
          }[type as string] ?? `of type ${type}`;
        throw refused(label, `entry ${excerpt(h.name)} is ${kind}`);
      }
      bytes += h.size ?? 0;
      if (bytes > limits.maxBytes) throw tooBig();
      if (limits.dryRun) {
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      clear(target, h.name);
      const mode = 0o644 | ((h.mode ?? 0) & 0o111 ? 0o111 : 0);
      if ((h.size ?? 0) <= 1024 * 1024) {
        // Small files (nearly all): gathered and written at once, far cheaper than a stream each.
        const chunks: Buffer[] = [];
        stream.on('data', (d: unknown) => void chunks.push(d as Buffer));
        stream.on('end', () => {
          try {
            const fd = create(target, mode);
            try {
              fs.writeSync(fd, Buffer.concat(chunks));
            } finally {
              fs.closeSync(fd);
            }
            next();
          } catch (err) {
            next(err as Error);
          }
        });
        return;
      }
      const out = fs.createWriteStream('', { fd: create(target, mode) });
      pipeline(stream, out).then(
        () => next(),
        (err: Error) => next(err),
      );
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
    throw refused(
      label,
      `it is not a valid ${limits.gzip ? 'gzip-compressed ' : ''}tar archive (${(err as Error).message.split('\n')[0].slice(0, 80)})`,
      'check that the URL serves a .tgz archive',
    );
  }
  return { files, bytes };
}
