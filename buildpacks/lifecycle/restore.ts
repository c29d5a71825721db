import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeTomlIn } from './toml-files';
import { assertInside } from './safe-fs';
import { extractTar } from './tar';
import type { LayerCache } from './cache';
import { escapeId, type Buildpack, type LifecycleMetadata } from './types';
import { chownBuildUser, type Workspace } from './workspace';

/**
 * Restore (CNB spec table "layer restoration"): layer metadata (<layer>.toml without [types]) from
 * the previous image for launch layers and from the cache for cache layers; cache layer contents
 * untarred from the per-app cache; store.toml from the image. A buildpack that re-declares a
 * launch layer's types without writing its directory keeps the previous image's layer as is.
 */
export interface Restored {
  /** bp id -> layer name -> diff ID the metadata came from. */
  shas: Map<string, Map<string, string>>;
  count: number;
}

export async function restore(opts: { ws: Workspace; group: Buildpack[]; previous?: LifecycleMetadata; cache: LayerCache }): Promise<Restored> {
  const cacheMeta = opts.cache.readMetadata();
  const shas = new Map<string, Map<string, string>>();
  let count = 0;
  for (const bp of opts.group) {
    if (bp.kind !== 'cnb') continue;
    const dir = path.join(opts.ws.layers, escapeId(bp.id));
    fs.mkdirSync(dir, { recursive: true });
    assertInside(opts.ws.root, dir);
    const writeToml = (file: string, v: Record<string, unknown>) => writeTomlIn(opts.ws.root, file, v);
    const fromImage = opts.previous?.buildpacks.find((b) => b.key === bp.id);
    const fromCache = cacheMeta.buildpacks.find((b) => b.key === bp.id);
    const mine = new Map<string, string>();
    shas.set(bp.id, mine);
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
      const tar = opts.cache.layerTar(l.sha);
      if (!fs.existsSync(tar)) continue;
      writeToml(path.join(dir, `${name}.toml`), { metadata: l.data ?? {} });
      await extractTar(tar, opts.ws.root);
      mine.set(name, l.sha);
      count++;
    }
    if (fromImage?.store?.metadata) writeToml(path.join(dir, 'store.toml'), { metadata: fromImage.store.metadata });
  }
  await chownBuildUser(opts.ws.layers);
  return { shas, count };
}
