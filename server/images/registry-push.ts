import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import { assertAppName } from '../../common/names';
import type { ImageStore } from '../../buildpacks/oci/layout';
import type { Descriptor } from '../../buildpacks/oci/media-types';
import { registryError, type RegistryClient } from './registry-client';

/**
 * Pushes an app image from the store to the platform registry as NAME/apps/APP:TAG, moving only
 * what the registry lacks (distribution spec, "Pushing blobs"):
 *
 *   manifest already there (HEAD by digest)  → only the tag is written (a config release, a rollback)
 *   blob already in apps/APP (HEAD)          → skipped
 *   blob known in another repository         → cross-repository mount (POST ?mount=&from=, 201)
 *   otherwise                                → upload: POST, then one monolithic PUT ?digest=
 *   then the manifest, its exact stored bytes, so its digest is the store's.
 *
 * Which repository holds which blob is remembered in SLIPWAY_HOME/registry/blob-repos.json (a
 * hint only: a wrong or lost entry costs an upload, never a broken image, because the registry
 * answers 202 instead of 201 to a mount it cannot do and the upload goes on in that session).
 */
export interface PushResult {
  /** NAME/apps/APP@sha256:... — what a node pulls. */
  ref: string;
  /** Bytes of blobs and manifest sent to the registry. */
  bytesUploaded: number;
  /** Blobs uploaded (layers and config). */
  blobsUploaded: number;
  blobsMounted: number;
  blobsSkipped: number;
  /** Of blobsUploaded, how many were layers (the push line counts layers). */
  layersUploaded: number;
}

export interface RegistryPusher {
  pushReleaseImage(app: string, storeRef: string, opts?: { tag?: string }): Promise<PushResult>;
  /** After the registry's GC: forgets emptied repositories and blobs the store no longer has. */
  forgetRepos(repos: string[]): void;
}

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export function createRegistryPusher(deps: {
  store: Pick<ImageStore, 'resolve' | 'readBlob' | 'blobPath' | 'hasBlob'>;
  client: RegistryClient;
  /** host:port image references carry (SLIPWAY_REGISTRY_NAME). */
  name: string;
  /** SLIPWAY_HOME/registry */
  dir: string;
}): RegistryPusher {
  const { client, store } = deps;
  const hintsFile = path.join(deps.dir, 'blob-repos.json');
  let hints: Record<string, string[]> = {};
  try {
    hints = JSON.parse(fs.readFileSync(hintsFile, 'utf8')) as Record<string, string[]>;
  } catch {
    hints = {};
  }
  const saveHints = () => {
    const tmp = `${hintsFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(hints));
    fs.renameSync(tmp, hintsFile);
  };
  const remember = (digest: string, repo: string) => {
    const list = (hints[digest] ??= []);
    if (!list.includes(repo)) list.unshift(repo);
    if (list.length > 4) list.length = 4;
  };

  async function resolveManifest(storeRef: string): Promise<{ digest: string; bytes: Buffer }> {
    const at = storeRef.indexOf('@');
    const d = at > 0 ? { digest: storeRef.slice(at + 1) } : await store.resolve(storeRef);
    if (!d || !store.hasBlob(d.digest))
      throw new SlipwayError('NOT_FOUND', `image ${storeRef} is not in the image store`, {
        hint: 'build the app again (slipway builds:create) or roll back to a release whose image exists',
      });
    return { digest: d.digest, bytes: await store.readBlob(d.digest) };
  }

  /** One blob into REPO: skipped, mounted or uploaded. */
  async function pushBlob(repo: string, blob: Descriptor): Promise<'skipped' | 'mounted' | 'uploaded'> {
    const head = await client.request('HEAD', `/v2/${repo}/blobs/${blob.digest}`);
    if (head.status === 200) return 'skipped';
    if (head.status !== 404) throw registryError(`checking ${blob.digest.slice(0, 19)} in ${repo}`, head);
    let location: string | undefined;
    for (const from of (hints[blob.digest] ?? []).filter((r) => r !== repo)) {
      const m = await client.request(
        'POST',
        `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`,
        { length: 0 },
      );
      if (m.status === 201) return 'mounted';
      if (m.status !== 202) throw registryError(`mounting ${blob.digest.slice(0, 19)} from ${from}`, m);
      // Not mountable (that repository lost it): the registry opened an upload session instead.
      location = String(m.headers.location);
      break;
    }
    if (!location) {
      const post = await client.request('POST', `/v2/${repo}/blobs/uploads/`, { length: 0 });
      if (post.status !== 202) throw registryError(`starting an upload to ${repo}`, post);
      location = String(post.headers.location);
    }
    const url = new URL(location, client.base);
    url.searchParams.set('digest', blob.digest);
    const put = await client.request('PUT', url.toString(), {
      headers: { 'content-type': 'application/octet-stream' },
      body: fs.createReadStream(store.blobPath(blob.digest)),
      length: blob.size,
    });
    if (put.status !== 201) throw registryError(`uploading ${blob.digest.slice(0, 19)} to ${repo}`, put);
    return 'uploaded';
  }

  async function pushReleaseImage(app: string, storeRef: string, opts: { tag?: string } = {}): Promise<PushResult> {
    const repo = `apps/${assertAppName(app)}`;
    const { digest, bytes } = await resolveManifest(storeRef);
    const manifest = JSON.parse(bytes.toString('utf8')) as {
      mediaType?: string;
      config: Descriptor;
      layers: Descriptor[];
    };
    const result: PushResult = {
      ref: `${deps.name}/${repo}@${digest}`,
      bytesUploaded: 0,
      blobsUploaded: 0,
      blobsMounted: 0,
      blobsSkipped: 0,
      layersUploaded: 0,
    };
    const blobs = [manifest.config, ...manifest.layers];
    const there = await client.request('HEAD', `/v2/${repo}/manifests/${digest}`, {
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (there.status === 200) result.blobsSkipped = blobs.length;
    else {
      // Three at a time: the registry writes each blob to its own upload directory.
      let next = 0;
      const worker = async () => {
        while (next < blobs.length) {
          const blob = blobs[next++];
          const how = await pushBlob(repo, blob);
          if (how === 'skipped') result.blobsSkipped++;
          else if (how === 'mounted') result.blobsMounted++;
          else {
            result.blobsUploaded++;
            result.bytesUploaded += blob.size;
            if (blob !== manifest.config) result.layersUploaded++;
          }
        }
      };
      await Promise.all([worker(), worker(), worker()]);
    }
    if (there.status !== 200 || opts.tag) {
      const put = await client.request('PUT', `/v2/${repo}/manifests/${opts.tag ?? digest}`, {
        headers: { 'content-type': manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json' },
        body: bytes,
      });
      if (put.status !== 201) throw registryError(`writing the manifest of ${repo}`, put);
      const got = put.headers['docker-content-digest'];
      if (got && got !== digest)
        throw new SlipwayError(
          'DEPLOY_FAILED',
          `the registry stored ${repo}'s manifest as ${String(got)}, not ${digest}`,
          {
            hint: 'see log/registry.log in SLIPWAY_HOME',
          },
        );
      result.bytesUploaded += bytes.length;
    }
    for (const b of blobs) remember(b.digest, repo);
    saveHints();
    return result;
  }

  return {
    pushReleaseImage,
    forgetRepos(repos) {
      const gone = new Set(repos);
      for (const [d, list] of Object.entries(hints)) {
        const left = list.filter((r) => !gone.has(r));
        if (left.length && store.hasBlob(d)) hints[d] = left;
        else delete hints[d];
      }
      saveHints();
    },
  };
}

/** "2 layers, 1.2 MB; 5 reused": the push line's parenthesis. */
export function pushSummary(r: PushResult): string {
  const mb = r.bytesUploaded / 1e6;
  const size = mb >= 0.1 ? `${mb.toFixed(1)} MB` : `${(r.bytesUploaded / 1e3).toFixed(1)} KB`;
  const layers = `${r.layersUploaded} layer${r.layersUploaded === 1 ? '' : 's'}`;
  return `${layers}, ${size}; ${r.blobsMounted + r.blobsSkipped} reused`;
}
