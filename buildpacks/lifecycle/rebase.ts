import { SlipwayError } from '../../common/errors';
import type { ImageStore } from '../oci/layout';
import type { ImageConfig } from '../oci/media-types';
import { readImage } from './analyze';
import { CREATED } from './export';
import type { LifecycleMetadata } from './types';

/**
 * Rebase: put the app layers of an image on a new run image without rebuilding. The run image
 * part is everything up to and including runImage.topLayer; it is replaced by the new run
 * image's layers, the app layers stay byte-identical (same blobs), and only a new config and
 * manifest are written. Stack labels come from the new run image.
 */
export async function rebase(opts: {
  store: ImageStore;
  imageRef: string;
  newRunImageRef: string;
  outRef: string;
}): Promise<{ manifestDigest: string }> {
  const app = await readImage(opts.store, opts.imageRef);
  if (!app)
    throw new SlipwayError('NOT_FOUND', `image ${opts.imageRef} is not in the store`, { hint: 'build the app first' });
  const run = await readImage(opts.store, opts.newRunImageRef);
  if (!run)
    throw new SlipwayError('NOT_FOUND', `run image ${opts.newRunImageRef} is not in the store`, {
      hint: 'slipway stacks:update builds it',
    });
  const label = app.config.config.Labels?.['io.buildpacks.lifecycle.metadata'];
  if (!label)
    throw new SlipwayError(
      'INVALID_INPUT',
      `image ${opts.imageRef} was not built by buildpacks (no lifecycle metadata)`,
      { hint: 'rebuild it instead' },
    );
  const meta = JSON.parse(label) as LifecycleMetadata;
  if (app.config.config.Labels?.['io.buildpacks.rebasable'] === 'false') {
    throw new SlipwayError('CONFLICT', `image ${opts.imageRef} is marked not rebasable`, {
      hint: 'rebuild the app instead',
    });
  }
  const oldStack = app.config.config.Labels?.['io.buildpacks.stack.id'];
  const newStack = run.config.config.Labels?.['io.buildpacks.stack.id'];
  if (oldStack && newStack && oldStack !== newStack) {
    throw new SlipwayError('CONFLICT', `cannot rebase from stack ${oldStack} onto ${newStack}`, {
      hint: 'rebase onto a newer image of the same stack, or rebuild',
    });
  }
  const diffIds = app.config.rootfs.diff_ids;
  const cut = diffIds.lastIndexOf(meta.runImage.topLayer);
  if (cut < 0)
    throw new SlipwayError('INVALID_INPUT', `image ${opts.imageRef}: its run image top layer is not among its layers`, {
      hint: 'rebuild the app',
    });
  const upperLayers = app.manifest.layers
    .slice(cut + 1)
    .map((d, i) => ({ descriptor: d, diffId: diffIds[cut + 1 + i] }));
  const baseLayers = run.manifest.layers.map((d, i) => ({ descriptor: d, diffId: run.config.rootfs.diff_ids[i] }));
  const appHistory = (app.config.history ?? []).filter((h) => !h.empty_layer);
  const runHistory = (run.config.history ?? []).filter((h) => !h.empty_layer).slice(0, baseLayers.length);
  while (runHistory.length < baseLayers.length) runHistory.push({ created_by: 'run image' });
  const newMeta: LifecycleMetadata = {
    ...meta,
    runImage: {
      ...meta.runImage,
      topLayer: run.config.rootfs.diff_ids[run.config.rootfs.diff_ids.length - 1],
      reference: run.manifestDigest,
      image: opts.newRunImageRef,
    },
    stack: { runImage: { image: opts.newRunImageRef } },
  };
  const labels = { ...(app.config.config.Labels ?? {}) };
  for (const k of Object.keys(labels))
    if (k.startsWith('io.buildpacks.stack.') || k.startsWith('io.buildpacks.base.') || k.startsWith('io.slipway.stack'))
      delete labels[k];
  for (const [k, v] of Object.entries(run.config.config.Labels ?? {})) {
    if (k.startsWith('io.buildpacks.stack.') || k.startsWith('io.buildpacks.base.') || k.startsWith('io.slipway.stack'))
      labels[k] = v;
  }
  labels['io.buildpacks.lifecycle.metadata'] = JSON.stringify(newMeta);
  const config: ImageConfig = {
    ...app.config,
    created: CREATED,
    config: { ...app.config.config, Labels: labels },
    history: [...runHistory, ...appHistory.slice(cut + 1)],
  };
  const img = await opts.store.writeImage(config, [...baseLayers, ...upperLayers]);
  await opts.store.tag(opts.outRef, img.manifest);
  return { manifestDigest: img.manifest.digest };
}
