import * as fs from 'node:fs';
import { pack } from 'tar-stream';
import { Readable } from 'node:stream';
import type { ImageStore } from './layout';

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
      new Promise<void>((resolve, reject) => tar.entry({ name, mtime, mode: 0o644 }, body, (e) => (e ? reject(e) : resolve())));
    await add(`${configHex}.json`, await store.readBlob(manifest.config.digest));
    await add('manifest.json', Buffer.from(JSON.stringify([{ Config: `${configHex}.json`, RepoTags: repoTags, Layers: layerNames }])));
    for (const [i, layer] of manifest.layers.entries()) {
      await new Promise<void>((resolve, reject) => {
        const entry = tar.entry({ name: layerNames[i], size: layer.size, mtime, mode: 0o644 }, (e) => (e ? reject(e) : resolve()));
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
