import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { SlipwayError } from '../../common/errors';
import { MEDIA, type Descriptor, type ImageConfig, type LayerRef, type Manifest } from './media-types';

/**
 * The platform's image store: an OCI image layout on disk (oci-layout, index.json, blobs/sha256).
 * Blobs are content-addressed and written to a temporary name, then renamed into place, so
 * concurrent builds never see a half-written blob and writing the same blob twice is harmless.
 * index.json (the tag list) is rewritten under a lock file, then renamed.
 * Tags are stored as the org.opencontainers.image.ref.name annotation: "<repository>:<tag>".
 */
export interface ImageStore {
  root: string;
  blobPath(digest: string): string;
  hasBlob(digest: string): boolean;
  readBlob(digest: string): Promise<Buffer>;
  readJson<T>(digest: string): Promise<T>;
  putBytes(bytes: Buffer | string, mediaType: string): Promise<Descriptor>;
  putJson(value: unknown, mediaType: string): Promise<Descriptor>;
  /** Writes a tar stream as a gzip layer; returns the blob descriptor and the tar's diff ID. */
  putLayer(tar: Readable): Promise<LayerRef>;
  /**
   * Stores a tar file the caller wrote and hashed (diffId = sha256 of its bytes) as a layer:
   * `none` moves the file itself into the store (blob digest = diff ID, nothing re-read or
   * compressed), `gzip` compresses it (level 1). The file is gone afterwards either way.
   */
  putLayerFile(file: string, diffId: string, compression: LayerCompression): Promise<Descriptor>;
  /**
   * The blob already in the store for a layer with this diff ID, from any image of any app (the
   * diff-ids/ notes the store writes whenever it stores a layer). Content-addressed: a layer
   * matches only if its own bytes hash to that diff ID, so one app can never select another's blob
   * by anything but producing the identical tar.
   */
  layerByDiffId(diffId: string): Descriptor | undefined;
  /** Records diff ID → blob for layerByDiffId (only for blobs this process verified). */
  noteLayer(diffId: string, descriptor: Descriptor): void;
  tag(ref: string, manifest: Descriptor): Promise<void>;
  untag(ref: string): Promise<void>;
  resolve(ref: string): Promise<Descriptor | undefined>;
  listTags(): Promise<Array<{ ref: string; descriptor: Descriptor }>>;
  writeImage(
    config: ImageConfig,
    layers: LayerRef[],
    annotations?: Record<string, string>,
  ): Promise<{
    manifest: Descriptor;
    config: Descriptor;
  }>;
  readManifest(digest: string): Promise<Manifest>;
}

const REF_ANNOTATION = 'org.opencontainers.image.ref.name';

/** How the exporter stores new layers: docs/lifecycle.md "Compression" has the measurements. */
export type LayerCompression = 'none' | 'gzip';

export function digestOf(bytes: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

export function assertDigest(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(digest)} is not a sha256 digest`, {
      hint: 'digests look like sha256:<64 hex characters>',
    });
  }
  return digest;
}

/** Stable JSON: keys sorted, so identical content always hashes to the same digest. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

function hashing(hash: ReturnType<typeof createHash>, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

export function openImageStore(root: string): ImageStore {
  const blobs = path.join(root, 'blobs', 'sha256');
  const tmp = path.join(root, 'tmp');
  fs.mkdirSync(blobs, { recursive: true });
  fs.mkdirSync(tmp, { recursive: true });
  const layoutFile = path.join(root, 'oci-layout');
  if (!fs.existsSync(layoutFile)) fs.writeFileSync(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexFile = path.join(root, 'index.json');
  if (!fs.existsSync(indexFile)) {
    fs.writeFileSync(indexFile, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [] }));
  }

  const notes = path.join(root, 'diff-ids');
  fs.mkdirSync(notes, { recursive: true });
  const blobPath = (digest: string) => path.join(blobs, assertDigest(digest).slice('sha256:'.length));
  const tmpName = () => path.join(tmp, `${process.pid}-${randomBytes(6).toString('hex')}`);

  async function commit(tmpFile: string, digest: string): Promise<void> {
    const dest = blobPath(digest);
    if (fs.existsSync(dest)) {
      await fsp.rm(tmpFile, { force: true });
      return;
    }
    await fsp.chmod(tmpFile, 0o444);
    await fsp.rename(tmpFile, dest);
  }

  async function putBytes(bytes: Buffer | string, mediaType: string): Promise<Descriptor> {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const digest = digestOf(buf);
    if (!fs.existsSync(blobPath(digest))) {
      const t = tmpName();
      await fsp.writeFile(t, buf);
      await commit(t, digest);
    }
    return { mediaType, digest, size: buf.length };
  }

  async function putLayer(tar: Readable): Promise<LayerRef> {
    const t = tmpName();
    const rawHash = createHash('sha256');
    const gzHash = createHash('sha256');
    const rawCount = { n: 0 };
    const gzCount = { n: 0 };
    try {
      // Level 1: layers move over loopback; CPU time matters more than bytes.
      await pipeline(
        tar,
        hashing(rawHash, rawCount),
        createGzip({ level: 1 }),
        hashing(gzHash, gzCount),
        fs.createWriteStream(t),
      );
    } catch (err) {
      await fsp.rm(t, { force: true });
      throw err;
    }
    const digest = 'sha256:' + gzHash.digest('hex');
    await commit(t, digest);
    const ref = {
      descriptor: { mediaType: MEDIA.layerGzip, digest, size: gzCount.n },
      diffId: 'sha256:' + rawHash.digest('hex'),
    };
    noteLayer(ref.diffId, ref.descriptor);
    return ref;
  }

  async function putLayerFile(file: string, diffId: string, compression: LayerCompression): Promise<Descriptor> {
    assertDigest(diffId);
    if (compression === 'gzip') {
      const { descriptor, diffId: got } = await putLayer(fs.createReadStream(file));
      await fsp.rm(file, { force: true });
      if (got !== diffId) throw new Error(`layer file ${file} changed while it was stored`);
      return descriptor;
    }
    const size = (await fsp.stat(file)).size;
    const t = tmpName();
    try {
      await fsp.rename(file, t);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await fsp.copyFile(file, t);
      await fsp.rm(file, { force: true });
    }
    await commit(t, diffId);
    const descriptor = { mediaType: MEDIA.layerTar, digest: diffId, size };
    noteLayer(diffId, descriptor);
    return descriptor;
  }

  const notePath = (diffId: string) => path.join(notes, assertDigest(diffId).slice('sha256:'.length));
  function noteLayer(diffId: string, descriptor: Descriptor): void {
    const note = notePath(diffId);
    const t = `${note}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(t, JSON.stringify(descriptor));
    fs.renameSync(t, note);
  }
  function layerByDiffId(diffId: string): Descriptor | undefined {
    try {
      const d = JSON.parse(fs.readFileSync(notePath(diffId), 'utf8')) as Descriptor;
      if (typeof d.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d.digest)) return undefined;
      if (d.mediaType !== MEDIA.layerGzip && d.mediaType !== MEDIA.layerTar) return undefined;
      // GC may have removed the blob; the note alone is worthless.
      return fs.existsSync(blobPath(d.digest)) ? { mediaType: d.mediaType, digest: d.digest, size: d.size } : undefined;
    } catch {
      return undefined;
    }
  }

  async function withIndexLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = indexFile + '.lock';
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const fd = fs.openSync(lock, 'wx');
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A lock whose owner died is stale: take it over.
        const owner = Number(fs.readFileSync(lock, 'utf8') || 0);
        if (owner && owner !== process.pid && !processAlive(owner)) fs.rmSync(lock, { force: true });
        if (Date.now() > deadline) {
          throw new SlipwayError('CONFLICT', `the image store index is locked (${lock})`, {
            hint: 'another build is writing tags; if no slipway process is running, remove the lock file',
          });
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    try {
      return await fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  type Index = { schemaVersion: 2; mediaType: string; manifests: Descriptor[] };
  const readIndex = async (): Promise<Index> => JSON.parse(await fsp.readFile(indexFile, 'utf8')) as Index;
  async function writeIndex(index: Index): Promise<void> {
    const t = tmpName();
    await fsp.writeFile(t, JSON.stringify(index, null, 2));
    await fsp.rename(t, indexFile);
  }

  const store: ImageStore = {
    root,
    blobPath,
    hasBlob: (digest) => fs.existsSync(blobPath(digest)),
    readBlob: (digest) => fsp.readFile(blobPath(digest)),
    async readJson<T>(digest: string): Promise<T> {
      return JSON.parse((await fsp.readFile(blobPath(digest))).toString('utf8')) as T;
    },
    putBytes,
    putJson: (value, mediaType) => putBytes(canonicalJson(value), mediaType),
    putLayer,
    putLayerFile,
    layerByDiffId,
    noteLayer,
    async tag(ref, manifest) {
      await withIndexLock(async () => {
        const index = await readIndex();
        index.manifests = index.manifests.filter((m) => m.annotations?.[REF_ANNOTATION] !== ref);
        index.manifests.push({ ...manifest, annotations: { ...manifest.annotations, [REF_ANNOTATION]: ref } });
        await writeIndex(index);
      });
    },
    async untag(ref) {
      await withIndexLock(async () => {
        const index = await readIndex();
        index.manifests = index.manifests.filter((m) => m.annotations?.[REF_ANNOTATION] !== ref);
        await writeIndex(index);
      });
    },
    async resolve(ref) {
      if (ref.startsWith('sha256:')) {
        return store.hasBlob(ref)
          ? { mediaType: MEDIA.manifest, digest: ref, size: fs.statSync(blobPath(ref)).size }
          : undefined;
      }
      const index = await readIndex();
      const found = index.manifests.find((m) => m.annotations?.[REF_ANNOTATION] === ref);
      if (!found) return undefined;
      const { annotations: _a, ...descriptor } = found;
      return descriptor;
    },
    async listTags() {
      const index = await readIndex();
      return index.manifests
        .filter((m) => m.annotations?.[REF_ANNOTATION])
        .map((m) => {
          const { annotations, ...descriptor } = m;
          return { ref: annotations![REF_ANNOTATION], descriptor };
        });
    },
    async writeImage(config, layers, annotations) {
      const cfg: ImageConfig = { ...config, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } };
      const configDesc = await store.putJson(cfg, MEDIA.config);
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: configDesc,
        layers: layers.map((l) => l.descriptor),
        ...(annotations ? { annotations } : {}),
      };
      const manifestDesc = await store.putJson(manifest, MEDIA.manifest);
      return { manifest: manifestDesc, config: configDesc };
    },
    readManifest: (digest) => store.readJson<Manifest>(digest),
  };
  return store;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
