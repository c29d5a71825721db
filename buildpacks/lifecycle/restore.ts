import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeTomlIn } from './toml-files';
import { assertInside } from './safe-fs';
import type { FileIndex, LayerCache } from './cache';
import { escapeId, type Buildpack, type LifecycleMetadata } from './types';
import { BUILD_UID, type Workspace } from './workspace';

/**
 * Restore (CNB spec table "layer restoration"): layer metadata (<layer>.toml without [types]) from
 * the previous image for launch layers and from the cache for cache layers; cache layer contents
 * untarred from the per-app cache; store.toml from the image. A buildpack that re-declares a
 * launch layer's types without writing its directory keeps the previous image's layer as is.
 */
export interface Restored {
  /** bp id -> layer name -> diff ID the metadata came from. */
  shas: Map<string, Map<string, string>>;
  /** bp id -> layer name -> content fingerprint and file index of a layer restored from the cache. */
  fingerprints: Map<string, Map<string, string>>;
  indexes: Map<string, Map<string, FileIndex>>;
  count: number;
}

export async function restore(opts: {
  ws: Workspace;
  group: Buildpack[];
  previous?: LifecycleMetadata;
  cache: LayerCache;
}): Promise<Restored> {
  const cacheMeta = opts.cache.readMetadata();
  const shas = new Map<string, Map<string, string>>();
  const fingerprints = new Map<string, Map<string, string>>();
  const indexes = new Map<string, Map<string, FileIndex>>();
  let count = 0;
  for (const bp of opts.group) {
    if (bp.kind !== 'cnb') continue;
    const esc = escapeId(bp.id);
    const dir = path.join(opts.ws.layers, esc);
    fs.mkdirSync(dir, { recursive: true });
    assertInside(opts.ws.root, dir);
    const writeToml = (file: string, v: Record<string, unknown>) => writeTomlIn(opts.ws.root, file, v);
    const fromImage = opts.previous?.buildpacks.find((b) => b.key === bp.id);
    const fromCache = cacheMeta.buildpacks.find((b) => b.key === bp.id);
    const mine = new Map<string, string>();
    const fps = new Map<string, string>();
    const idx = new Map<string, FileIndex>();
    shas.set(bp.id, mine);
    fingerprints.set(bp.id, fps);
    indexes.set(bp.id, idx);
    for (const [name, l] of Object.entries(fromImage?.layers ?? {})) {
      if (!l.launch || !l.sha) continue;
      if (l.build && !l.cache) continue;
      if (l.cache && !fromCache?.layers[name]?.cache) continue;
      writeToml(path.join(dir, `${name}.toml`), { metadata: l.data ?? {} });
      mine.set(name, l.sha);
    }
    for (const [name, l] of Object.entries(fromCache?.layers ?? {})) {
      if (!l.cache || !l.sha) continue;
      const fromImg = mine.get(name);
      if (fromImg && fromImg !== l.sha) {
        // The image and the cache disagree: the metadata is stale, the buildpack rebuilds it.
        fs.rmSync(path.join(dir, `${name}.toml`), { force: true });
        mine.delete(name);
        continue;
      }
      const index = opts.cache.readIndex(esc, name);
      if (!opts.cache.take(esc, name, path.join(dir, name))) continue;
      if (index) idx.set(name, index);
      writeToml(path.join(dir, `${name}.toml`), { metadata: l.data ?? {} });
      mine.set(name, l.sha);
      if (l.fingerprint) fps.set(name, l.fingerprint);
      count++;
    }
    if (fromImage?.store?.metadata) writeToml(path.join(dir, 'store.toml'), { metadata: fromImage.store.metadata });
  }
  // Only what the host created: restored dirs already belong to the build user (no chown -R over
  // a 100 MB runtime on every build).
  for (const bp of process.getuid?.() === 0 ? opts.group : []) {
    if (bp.kind !== 'cnb') continue;
    const dir = path.join(opts.ws.layers, escapeId(bp.id));
    for (const f of [
      dir,
      ...fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.toml'))
        .map((n) => path.join(dir, n)),
    ])
      fs.lchownSync(f, BUILD_UID, BUILD_UID);
  }
  if (process.getuid?.() === 0) fs.lchownSync(opts.ws.layers, BUILD_UID, BUILD_UID);
  return { shas, fingerprints, indexes, count };
}
