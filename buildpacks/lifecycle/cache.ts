import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BuildpackLayersMetadata } from './types';

/**
 * The per-app CNB layer cache, in the reference lifecycle's volume-cache format:
 * <cache>/committed/sha256:<hex>.tar (uncompressed layer tars named by diff ID) and
 * metadata.json ({buildpacks: [...]}, same shape as the image label). A build writes a staging
 * dir and swaps it in at the end, so a failed build leaves the previous cache intact.
 */
export interface CacheMetadata {
  buildpacks: BuildpackLayersMetadata[];
}

export function openCache(root: string) {
  const committed = path.join(root, 'committed');
  const staging = path.join(root, 'staging');
  const tarName = (diffId: string) => `${diffId.replace(':', '-')}.tar`;
  return {
    committed,
    readMetadata(): CacheMetadata {
      try {
        return JSON.parse(fs.readFileSync(path.join(committed, 'metadata.json'), 'utf8')) as CacheMetadata;
      } catch {
        return { buildpacks: [] };
      }
    },
    layerTar: (diffId: string) => path.join(committed, tarName(diffId)),
    startStaging() {
      fs.rmSync(staging, { recursive: true, force: true });
      fs.mkdirSync(staging, { recursive: true });
    },
    /** Moves (or links, when already committed) a layer tar into staging. */
    stage(diffId: string, tarFile: string) {
      const dest = path.join(staging, tarName(diffId));
      if (fs.existsSync(dest)) return;
      const old = path.join(committed, tarName(diffId));
      if (fs.existsSync(old)) fs.linkSync(old, dest);
      else fs.copyFileSync(tarFile, dest);
    },
    commit(meta: CacheMetadata) {
      fs.writeFileSync(path.join(staging, 'metadata.json'), JSON.stringify(meta));
      const backup = path.join(root, 'committed-backup');
      fs.rmSync(backup, { recursive: true, force: true });
      if (fs.existsSync(committed)) fs.renameSync(committed, backup);
      fs.renameSync(staging, committed);
      fs.rmSync(backup, { recursive: true, force: true });
    },
  };
}
export type LayerCache = ReturnType<typeof openCache>;
