import * as fs from 'node:fs';
import * as path from 'node:path';
import { pack } from 'tar-stream';
import { Readable } from 'node:stream';
import type { ImageStore } from './layout';
import { MEDIA, type Descriptor, type ImageConfig, type Manifest } from './media-types';

/**
 * Streams an image from the store as a `docker save` archive (manifest.json + config + layers),
 * for `docker load`. Layers stay gzip-compressed (docker load detects compression), so nothing is
 * recompressed and the image ID Docker reports equals the config digest in the store.
 */
export async function dockerArchive(store: ImageStore, manifestDigest: string, repoTags: string[]): Promise<Readable> {
  const manifest = await store.readManifest(manifestDigest);
  const configHex = manifest.config.digest.slice('sha256:'.length);
  const layerNames = manifest.layers.map((l) => `${l.digest.slice('sha256:'.length)}/layer.tar`);
  const tar = pack();
  const mtime = new Date('1980-01-01T00:00:01Z');

  (async () => {
    const add = (name: string, body: Buffer) =>
      new Promise<void>((resolve, reject) =>
        tar.entry({ name, mtime, mode: 0o644 }, body, (e) => (e ? reject(e) : resolve())),
      );
    await add(`${configHex}.json`, await store.readBlob(manifest.config.digest));
    await add(
      'manifest.json',
      Buffer.from(JSON.stringify([{ Config: `${configHex}.json`, RepoTags: repoTags, Layers: layerNames }])),
    );
    for (const [i, layer] of manifest.layers.entries()) {
      await new Promise<void>((resolve, reject) => {
        const entry = tar.entry({ name: layerNames[i], size: layer.size, mtime, mode: 0o644 }, (e) =>
          e ? reject(e) : resolve(),
        );
        const src = fs.createReadStream(store.blobPath(layer.digest));
        src.on('error', reject);
        src.pipe(entry);
      });
    }
    tar.finalize();
  })().catch((err) => tar.destroy(err));
  // tar-stream is a streamx stream; hand Node APIs (dockerode, http) a real Readable.
  return Readable.from(tar);
}

/**
 * The other direction: an unpacked `docker save` archive (manifest.json + config + uncompressed
 * layer tars, legacy `<id>/layer.tar` or the OCI `blobs/sha256/...` paths of newer engines) into
 * the store. The config is kept byte for byte, so the image ID stays Docker's and the config's
 * diff IDs stay valid. A layer whose diff ID was imported before is not compressed again: a
 * small content-addressed note (diff-ids/HEX → blob descriptor) maps it to its blob, so a
 * rebuild that changed one layer writes one new blob.
 */
export async function importDockerArchive(
  store: ImageStore,
  dir: string,
): Promise<{ manifest: Descriptor; config: ImageConfig }> {
  const entries = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Array<{
    Config: string;
    Layers: string[];
  }>;
  if (!Array.isArray(entries) || entries.length !== 1)
    throw new Error(`the image archive holds ${entries?.length ?? 0} images, expected 1`);
  const inside = (p: string) => {
    const full = path.resolve(dir, p);
    if (!full.startsWith(path.resolve(dir) + path.sep))
      throw new Error(`the image archive names a path outside itself: ${p}`);
    return full;
  };
  const configBytes = fs.readFileSync(inside(entries[0].Config));
  const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== entries[0].Layers.length)
    throw new Error('the image archive lists a different number of layers than its config');
  const layers: Descriptor[] = [];
  for (const [i, layerPath] of entries[0].Layers.entries()) {
    const diffId = diffIds[i];
    const known = store.layerByDiffId(diffId);
    if (known) {
      layers.push(known);
      continue;
    }
    const ref = await store.putLayer(fs.createReadStream(inside(layerPath)));
    if (ref.diffId !== diffId)
      throw new Error(`layer ${i + 1} of the image archive does not match its diff ID in the config`);
    layers.push(ref.descriptor);
  }
  const configDesc = await store.putBytes(configBytes, MEDIA.config);
  const manifest: Manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config: configDesc, layers };
  return { manifest: await store.putJson(manifest, MEDIA.manifest), config };
}
