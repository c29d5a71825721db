import type Docker from 'dockerode';
import type { ImageStore, LayerCompression } from '../../../buildpacks/oci/layout';
import type * as Lifecycle from '../../../buildpacks/lifecycle';
import type { BuildOptions, BuildResult } from '../../../buildpacks/lifecycle';
import type { ContainerPool } from '../../../buildpacks/lifecycle/pool';
import type { Builder } from './types';

/** The lifecycle's build function, narrowed to what this builder passes (a stand-in in tests). */
export type LifecycleBuild = (
  opts: BuildOptions,
) => Promise<
  Pick<
    BuildResult,
    | 'imageRef'
    | 'manifestDigest'
    | 'processTypes'
    | 'releaseCommand'
    | 'buildpacks'
    | 'buildpackOrigin'
    | 'phaseTimings'
  >
>;

export interface BuildpacksBuilderDeps {
  docker: Docker;
  store: ImageStore;
  caBundle: string;
  /** host:port pairs on private addresses buildpack URLs may reach (SLIPWAY_BUILDPACK_FETCH_ALLOW). */
  buildpackFetchAllow?: string[];
  /** Heroku buildpack names resolve to the built-in ones (SLIPWAY_BUILDPACK_ALIASES). */
  buildpackAliases?: boolean;
  /** New layers: plain tars for the local store (default) or gzip (SLIPWAY_LAYER_COMPRESSION). */
  layerCompression?: LayerCompression;
  /** Per-machine runtime downloads shared by all builds (<home>/caches/.downloads). */
  downloadCacheDir?: string;
  /** Pre-started build containers (buildpacks/lifecycle/pool.ts), made at the first build. */
  pool?: () => ContainerPool;
  /** Default: the real lifecycle (buildpacks/lifecycle). */
  lifecycle?: LifecycleBuild;
}

/**
 * Cloud Native Buildpacks (and legacy Heroku buildpacks through the shim): the lifecycle of
 * buildpacks/lifecycle runs analyze → detect → restore → build → export in one build container
 * and writes the image into the store. Applies to every source (buildpacks detect or fail).
 */
export function createBuildpacksBuilder(deps: BuildpacksBuilderDeps): Builder {
  // Loaded at the first build, not at start: an idle server does not hold the lifecycle's modules.
  const run: LifecycleBuild =
    deps.lifecycle ?? ((opts) => (require('../../../buildpacks/lifecycle') as typeof Lifecycle).build(opts));
  return {
    name: 'buildpacks',
    async build(source, ctx) {
      const result = await run({
        appName: ctx.appName,
        sourceDir: source.dir,
        workspaceDir: ctx.workspaceDir,
        cacheDir: ctx.cacheDir,
        store: deps.store,
        docker: deps.docker,
        stack: ctx.stack,
        imageRef: ctx.imageRef,
        previousImageRef: ctx.previousImageRef,
        buildpacks: ctx.buildpacks,
        env: ctx.env,
        sourceVersion: source.version,
        limits: ctx.limits,
        caBundle: deps.caBundle,
        buildpackFetchAllow: deps.buildpackFetchAllow,
        buildpackAliases: deps.buildpackAliases,
        labels: ctx.labels,
        output: ctx.output,
        progress: ctx.progress,
        onBuildpacksChosen: ctx.onBuildpacksChosen,
        // The pipeline announces the stack itself.
        announce: false,
        signal: ctx.signal,
        layerCompression: deps.layerCompression,
        downloadCacheDir: deps.downloadCacheDir,
        pool: deps.pool?.(),
      });
      return {
        imageRef: result.imageRef,
        imageDigest: result.manifestDigest,
        processTypes: result.processTypes,
        releaseCommand: result.releaseCommand,
        metadata: {
          buildpacks: result.buildpacks,
          buildpacksFrom: result.buildpackOrigin,
          phaseTimings: result.phaseTimings,
        },
      };
    },
  };
}
