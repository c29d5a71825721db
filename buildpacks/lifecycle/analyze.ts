import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import type { ImageStore } from '../oci/layout';
import type { Descriptor, ImageConfig, Manifest } from '../oci/media-types';
import { writeToml } from './toml-files';
import type { LifecycleMetadata } from './types';

/**
 * Analyze: read the previous image's lifecycle metadata (which layers it has, by diff ID) and
 * the run image to build on. Writes analyzed.toml. A previous image that does not exist is fine
 * (first build); one that exists without our label is treated as no previous image.
 */
export interface ImageInfo {
  ref: string;
  manifestDigest: string;
  manifest: Manifest;
  config: ImageConfig;
  configDigest: string;
}

export interface AnalyzeResult {
  previous?: ImageInfo & { metadata: LifecycleMetadata };
  runImage: ImageInfo;
  /** diff ID -> layer descriptor of the previous image, for reuse without rewriting blobs. */
  previousLayers: Map<string, Descriptor>;
}

export async function readImage(store: ImageStore, ref: string): Promise<ImageInfo | undefined> {
  const d = await store.resolve(ref);
  if (!d) return undefined;
  const manifest = await store.readManifest(d.digest);
  const config = await store.readJson<ImageConfig>(manifest.config.digest);
  return { ref, manifestDigest: d.digest, manifest, config, configDigest: manifest.config.digest };
}

export const runImageRef = (stack: string) => `stacks/${stack}-run:latest`;

export async function analyze(opts: {
  store: ImageStore;
  stack: string;
  previousImageRef?: string;
  workspaceDir: string;
}): Promise<AnalyzeResult> {
  const runRef = runImageRef(opts.stack);
  const runImage = await readImage(opts.store, runRef);
  if (!runImage) {
    throw new SlipwayError('BUILD_FAILED', `the run image ${runRef} is not in the image store`, {
      hint: 'build the stack images first (slipway stacks:update)',
      details: { phase: 'analyze' },
    });
  }
  let previous: AnalyzeResult['previous'];
  const previousLayers = new Map<string, Descriptor>();
  if (opts.previousImageRef) {
    const img = await readImage(opts.store, opts.previousImageRef);
    const label = img?.config.config.Labels?.['io.buildpacks.lifecycle.metadata'];
    if (img && label) {
      previous = { ...img, metadata: JSON.parse(label) as LifecycleMetadata };
      img.config.rootfs.diff_ids.forEach((id, i) => {
        const desc = img.manifest.layers[i];
        if (desc && opts.store.hasBlob(desc.digest)) previousLayers.set(id, desc);
      });
    }
  }
  // Layer metadata is free-form JSON; TOML cannot hold every shape of it (mixed arrays), so
  // fall back to the JSON text rather than failing a build over an inspection file.
  const analyzedFile = path.join(opts.workspaceDir, 'analyzed.toml');
  const write = (v: Record<string, unknown>) => {
    try {
      writeToml(analyzedFile, v);
    } catch {
      writeToml(analyzedFile, { ...v, metadata: undefined, 'metadata-json': JSON.stringify(v.metadata ?? null) });
    }
  };
  write({
    ...(previous ? { image: { reference: `${previous.ref}@${previous.manifestDigest}` } } : {}),
    'run-image': {
      reference: runImage.manifestDigest,
      image: runRef,
      target: { os: 'linux', arch: 'amd64', distro: { name: 'debian', version: '12' } },
    },
    ...(previous ? { metadata: JSON.parse(JSON.stringify(previous.metadata)) } : {}),
  });
  return { previous, runImage, previousLayers };
}
