import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { pack, type Header as Headers } from 'tar-stream';
import { SlipwayError } from '../../common/errors';

/**
 * Reproducible layer tars: entries sorted by path, directories before their children, mtime
 * 1980-01-01T00:00:01Z, fixed uid/gid, no user or group names, permission bits kept, sockets and
 * devices skipped, hard links stored as plain files. The same inputs give the same bytes, so the
 * same diff ID, so an unchanged layer is recognised and never written twice.
 */
export const LAYER_MTIME = new Date('1980-01-01T00:00:01Z');

export interface TarEntry {
  /** Path inside the image, absolute (the leading "/" is dropped in the tar, docker style). */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  hostPath?: string;
  content?: Buffer;
  linkname?: string;
  size?: number;
  /** From lstat, for cache fingerprints only (never written into the tar). */
  mtimeMs?: number;
  ino?: number;
}

/** Walks a host directory as it will appear at imageDir; the root dir itself is included. */
export function walkDir(
  hostDir: string,
  imageDir: string,
  owner: { uid: number; gid: number },
  exclude?: (rel: string) => boolean,
): TarEntry[] {
  const out: TarEntry[] = [];
  const visit = (host: string, img: string, rel: string) => {
    const st = fs.lstatSync(host);
    const base = {
      path: img,
      mode: st.mode & 0o7777,
      uid: owner.uid,
      gid: owner.gid,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
    };
    if (st.isDirectory()) {
      out.push({ ...base, type: 'directory' });
      for (const name of fs.readdirSync(host)) {
        const r = rel ? `${rel}/${name}` : name;
        if (exclude?.(r)) continue;
        visit(path.join(host, name), `${img}/${name}`, r);
      }
    } else if (st.isSymbolicLink()) {
      out.push({ ...base, type: 'symlink', linkname: fs.readlinkSync(host) });
    } else if (st.isFile()) {
      out.push({ ...base, type: 'file', hostPath: host, size: st.size });
    }
  };
  visit(hostDir, imageDir, '');
  return out;
}

/** Parent directories of an image path, outermost first ("/layers", "/layers/bp"). */
export function parentDirs(imagePath: string, owner: { uid: number; gid: number }, mode = 0o755): TarEntry[] {
  const parts = imagePath.split('/').filter(Boolean);
  return parts
    .slice(0, -1)
    .map((_, i) => ({ path: '/' + parts.slice(0, i + 1).join('/'), type: 'directory' as const, mode, ...owner }));
}

/** Writes the entries as a tar file; returns its diff ID (sha256 of the tar) and size. */
export async function writeTar(
  entries: TarEntry[],
  outFile: string,
  onFile?: (e: TarEntry, sha: string) => void,
): Promise<{ diffId: string; size: number }> {
  const seen = new Set<string>();
  const sorted = entries
    .filter((e) => (seen.has(e.path) ? false : (seen.add(e.path), true)))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const tar = pack();
  const hash = createHash('sha256');
  let size = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const feeding = (async () => {
    for (const e of sorted) {
      const header = {
        name: e.path.replace(/^\/+/, '') + (e.type === 'directory' ? '/' : ''),
        type: e.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        uname: '',
        gname: '',
        mtime: LAYER_MTIME,
        size: 0,
        ...(e.type === 'symlink' ? { linkname: e.linkname } : {}),
      } as Headers;
      const body = e.type === 'file' ? (e.content ?? (await fs.promises.readFile(e.hostPath!))) : Buffer.alloc(0);
      if (onFile && e.type === 'file') onFile(e, createHash('sha256').update(body).digest('hex'));
      await new Promise<void>((res, rej) => tar.entry(header, body, (err) => (err ? rej(err) : res())));
    }
    tar.finalize();
  })();
  feeding.catch((err) => tar.destroy(err));
  await Promise.all([pipeline(tar, counting, fs.createWriteStream(outFile)), feeding]);
  return { diffId: 'sha256:' + hash.digest('hex'), size };
}

/** Extracts a layer tar (written by writeTar) under a host root, keeping numeric owners. */
export function extractTar(file: string, intoDir: string): Promise<void> {
  fs.mkdirSync(intoDir, { recursive: true });
  return new Promise((resolve, reject) => {
    execFile('tar', ['-x', '--numeric-owner', '-f', file, '-C', intoDir], (err, _out, stderr) =>
      err
        ? reject(
            new SlipwayError('INTERNAL', `could not extract ${file}: ${stderr || err.message}`, {
              hint: 'the cache may be damaged; clear it with slipway builds:cache:clear',
            }),
          )
        : resolve(),
    );
  });
}
