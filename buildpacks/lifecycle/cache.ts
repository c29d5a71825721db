import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayerMetadata } from './types';
import type { TarEntry } from './tar';

/**
 * The per-app CNB layer cache: the cached layer directories themselves, moved (renamed, O(1))
 * into the workspace by restore and back by export, plus metadata.json with each layer's diff ID
 * and a content fingerprint of its tree (see fingerprint()). A layer whose fingerprint is
 * unchanged after the build has the same diff ID, so an unchanged 100 MB runtime is neither
 * extracted, tarred nor hashed again; only files whose size, mtime or inode changed are re-read. (The reference lifecycle keeps tars and pays for
 * extracting and re-hashing them on every build: seconds for a Node.js app.)
 *
 *   <cnb cache>/layers/<escaped-bp-id>/<layer>/   layer contents
 *   <cnb cache>/layers/<escaped-bp-id>.<layer>.index.json   per-file [size, mtime, inode, sha256]
 *   <cnb cache>/metadata.json                      {buildpacks: [{key, version, layers: {name: {sha, fingerprint, data, types}}}]}
 *
 * A build takes the dirs it restores; only a successful export puts dirs back. A failed build
 * therefore leaves no half-modified layer in the cache (the next build starts those layers cold).
 */
export interface CachedLayer extends LayerMetadata {
  sha: string;
  fingerprint?: string;
}

export interface CacheMetadata {
  buildpacks: Array<{ key: string; version: string; layers: Record<string, CachedLayer> }>;
}

export interface CommitLayer {
  esc: string;
  name: string;
  hostDir: string;
  index: FileIndex;
}

/** Per file of a cached layer: [size, mtimeMs, inode, sha256 of the content]. */
export type FileIndex = Record<string, [number, number, number, string]>;

/**
 * A layer's content fingerprint: paths, types, modes, link targets and file content hashes. The
 * tar is a pure function of exactly these, so an equal fingerprint means an equal diff ID.
 * Content hashes come from `hashes` (what the tar writer saw) or, for files whose size, mtime and
 * inode match the previous index, from that index; anything else is read and hashed.
 */
export function fingerprint(
  entries: TarEntry[],
  hashes: Map<string, string>,
  previous?: FileIndex,
): { fp: string; index: FileIndex } {
  const h = createHash('sha256');
  const index: FileIndex = {};
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    let sha = '';
    if (e.type === 'file') {
      const old = previous?.[e.path];
      sha = hashes.get(e.path) ?? (old && old[0] === e.size && old[1] === e.mtimeMs && old[2] === e.ino ? old[3] : '');
      if (!sha)
        sha = createHash('sha256')
          .update(e.content ?? fs.readFileSync(e.hostPath!))
          .digest('hex');
      index[e.path] = [e.size ?? 0, e.mtimeMs ?? 0, e.ino ?? 0, sha];
    }
    h.update(`${e.path}\0${e.type}\0${e.mode}\0${e.linkname ?? ''}\0${sha}\n`);
  }
  return { fp: 'fp:' + h.digest('hex'), index };
}

export function openCache(root: string) {
  const layersDir = path.join(root, 'layers');
  const metaFile = path.join(root, 'metadata.json');
  const indexFile = (dir: string, esc: string, name: string) => path.join(dir, `${esc}.${name}.index.json`);
  return {
    readMetadata(): CacheMetadata {
      try {
        return JSON.parse(fs.readFileSync(metaFile, 'utf8')) as CacheMetadata;
      } catch {
        return { buildpacks: [] };
      }
    },
    /** Moves a cached layer dir to dest. False when the cache does not have it. */
    take(esc: string, name: string, dest: string): boolean {
      const src = path.join(layersDir, esc, name);
      if (!fs.existsSync(src)) return false;
      fs.rmSync(dest, { recursive: true, force: true });
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      move(src, dest);
      return true;
    },
    /** The file index saved with a cached layer (read before the layer is taken). */
    readIndex(esc: string, name: string): FileIndex | undefined {
      try {
        return JSON.parse(fs.readFileSync(indexFile(layersDir, esc, name), 'utf8')) as FileIndex;
      } catch {
        return undefined;
      }
    },
    /** Puts the given layer dirs back as the new cache (everything else cached is dropped). */
    commit(meta: CacheMetadata, layers: CommitLayer[]): void {
      const next = path.join(root, 'layers.next');
      fs.rmSync(next, { recursive: true, force: true });
      for (const l of layers) {
        fs.mkdirSync(path.join(next, l.esc), { recursive: true });
        move(l.hostDir, path.join(next, l.esc, l.name));
        fs.writeFileSync(indexFile(next, l.esc, l.name), JSON.stringify(l.index));
      }
      fs.mkdirSync(next, { recursive: true });
      const old = path.join(root, 'layers.old');
      fs.rmSync(old, { recursive: true, force: true });
      if (fs.existsSync(layersDir)) fs.renameSync(layersDir, old);
      fs.renameSync(next, layersDir);
      const tmp = `${metaFile}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(meta));
      fs.renameSync(tmp, metaFile);
      fs.rmSync(old, { recursive: true, force: true });
    },
  };
}
export type LayerCache = ReturnType<typeof openCache>;

/** rename(2) when on the same file system (the normal case under SLIPWAY_HOME), else copy. */
function move(src: string, dest: string): void {
  try {
    fs.renameSync(src, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    execFileSync('cp', ['-a', '--', src, dest]);
    fs.rmSync(src, { recursive: true, force: true });
  }
}
