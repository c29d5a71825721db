import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImageStore } from '../../buildpacks/oci/layout';
import type { Manifest } from '../../buildpacks/oci/media-types';

/**
 * Store garbage collection. App tags (apps/...) not in keepRefs are untagged; then every blob not
 * reachable from a remaining tag or a kept digest is deleted. Stack tags (stacks/...) are always
 * kept. Blobs younger than graceMs survive, so a build that has written layers but not yet
 * tagged its image is never robbed.
 */
export interface GcResult {
  untagged: string[];
  removedBlobs: number;
  freedBytes: number;
}

/**
 * A rebase tags its image (`apps/APP:rebase-V-<epoch ms, base 36>`, images/rebase.ts) before its
 * release exists, so no keep list names it yet: such a tag survives while it is younger than the
 * grace period, as a build's untagged blobs do.
 */
function inFlightRebase(ref: string, now: number, graceMs: number): boolean {
  const m = /:rebase-\d+-([0-9a-z]+)$/.exec(ref);
  return !!m && now - parseInt(m[1], 36) < graceMs;
}

export async function collectStoreGarbage(
  store: ImageStore,
  keepRefs: string[],
  opts: { graceMs?: number; now?: number } = {},
): Promise<GcResult> {
  const grace = opts.graceMs ?? 60 * 60_000;
  const now = opts.now ?? Date.now();
  const keep = new Set(keepRefs);
  const untagged: string[] = [];
  for (const { ref } of await store.listTags()) {
    if (ref.startsWith('apps/') && !keep.has(ref) && !inFlightRebase(ref, now, grace)) {
      await store.untag(ref);
      untagged.push(ref);
    }
  }
  const live = new Set<string>();
  const roots = [
    ...(await store.listTags()).map((t) => t.descriptor.digest),
    ...keepRefs.filter((r) => r.startsWith('sha256:')),
    ...keepRefs.map((r) => r.split('@')[1]).filter(Boolean),
  ];
  for (const digest of roots) {
    if (!store.hasBlob(digest) || live.has(digest)) continue;
    live.add(digest);
    const m = await store.readJson<Manifest & { manifests?: Array<{ digest: string }> }>(digest);
    if (m.config) live.add(m.config.digest);
    for (const l of m.layers ?? []) live.add(l.digest);
    for (const sub of m.manifests ?? []) roots.push(sub.digest);
  }
  const dir = path.join(store.root, 'blobs', 'sha256');
  let removedBlobs = 0;
  let freedBytes = 0;
  for (const hex of fs.readdirSync(dir)) {
    if (live.has(`sha256:${hex}`)) continue;
    const file = path.join(dir, hex);
    const st = fs.statSync(file);
    if (now - st.mtimeMs < grace) continue;
    fs.rmSync(file, { force: true });
    removedBlobs++;
    freedBytes += st.size;
  }
  // Leftovers of killed writers.
  const tmp = path.join(store.root, 'tmp');
  for (const f of fs.existsSync(tmp) ? fs.readdirSync(tmp) : []) {
    const file = path.join(tmp, f);
    if (now - fs.statSync(file).mtimeMs >= grace) fs.rmSync(file, { force: true, recursive: true });
  }
  return { untagged, removedBlobs, freedBytes };
}
