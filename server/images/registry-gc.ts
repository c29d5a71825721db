import { registryError, type RegistryClient } from './registry-client';

/**
 * The registry's half of image GC, run right after the store's (server/images/gc.ts): every
 * manifest in an apps/ repository whose digest the store no longer keeps is deleted through the
 * registry API (DELETE by digest, which also drops its tags); then, only if something was
 * deleted, `docker-registry garbage-collect` removes the blobs no manifest references any more.
 * The caller runs the sweep with the registry in read-only mode (pulls go on, pushes wait).
 */
export interface RegistryGcResult {
  deletedManifests: string[];
  /** Repositories left without any tag (their blob hints are forgotten). */
  emptiedRepos: string[];
  /** From garbage-collect's summary line ("N blobs and M manifests eligible for deletion"). */
  blobsDeleted: number;
  ran: boolean;
}

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** Every apps/ repository in the registry (the catalog, page by page). */
async function appRepos(client: RegistryClient): Promise<string[]> {
  const out: string[] = [];
  let next: string | undefined = '/v2/_catalog?n=500';
  while (next) {
    const r = await client.request('GET', next);
    if (r.status !== 200) throw registryError('listing repositories', r);
    out.push(...((JSON.parse(r.body.toString('utf8')) as { repositories?: string[] }).repositories ?? []));
    const link = /<([^>]+)>;\s*rel="next"/.exec(String(r.headers.link ?? ''));
    next = link?.[1];
  }
  return out.filter((r) => r.startsWith('apps/'));
}

/** Deletes the manifests not in keep; returns what went. */
export async function deleteUnkeptManifests(
  client: RegistryClient,
  keep: Set<string>,
): Promise<{ deleted: string[]; emptied: string[] }> {
  const deleted: string[] = [];
  const emptied: string[] = [];
  for (const repo of await appRepos(client)) {
    const t = await client.request('GET', `/v2/${repo}/tags/list`);
    if (t.status === 404) continue;
    if (t.status !== 200) throw registryError(`listing the tags of ${repo}`, t);
    const tags = (JSON.parse(t.body.toString('utf8')) as { tags?: string[] | null }).tags ?? [];
    const digests = new Set<string>();
    for (const tag of tags) {
      const h = await client.request('HEAD', `/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT } });
      const d = h.headers['docker-content-digest'];
      if (h.status === 200 && typeof d === 'string') digests.add(d);
    }
    let left = digests.size;
    for (const d of digests) {
      if (keep.has(d)) continue;
      const del = await client.request('DELETE', `/v2/${repo}/manifests/${d}`);
      if (del.status !== 202 && del.status !== 404) throw registryError(`deleting ${repo}@${d.slice(0, 19)}`, del);
      deleted.push(`${repo}@${d}`);
      left--;
    }
    if (left === 0) emptied.push(repo);
  }
  return { deleted, emptied };
}

/** "N blobs marked, M blobs and K manifests eligible for deletion" → M. */
export function blobsEligible(output: string): number {
  const m = /(\d+) blobs and \d+ manifests eligible for deletion/.exec(output);
  return m ? Number(m[1]) : 0;
}
