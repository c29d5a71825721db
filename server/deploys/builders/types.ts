import type { BuildSettings } from '../../state/repos/apps';
import type { ImageRunSpec } from '../../state/repos/releases';
import type { BuildpackOrigin } from '../../../buildpacks/lifecycle/select';

/**
 * The one interface every way of turning a source into an app image implements. The pipeline
 * (server/deploys/pipeline.ts) picks a builder, gives it the unpacked source and a context, and
 * gets back an image in the platform's store with its process table. Buildpacks are the first
 * implementation (builders/buildpacks.ts); a Dockerfile, image or tarball builder only adds one.
 */
export interface BuildSource {
  /** The unpacked source tree (a `git archive` of the pushed commit). */
  dir: string;
  /** The commit SHA (or another version label) being built. */
  version: string;
}

/** What a builder may look at to decide whether it applies: the app's build settings. */
export interface DetectContext {
  appName: string;
  settings: BuildSettings;
  /** The app's explicit buildpack list (empty: detected). */
  buildpacks: string[];
}

export interface BuildContext {
  appName: string;
  buildId: string;
  stack: string;
  /** Config vars, available to the build. */
  env: Record<string, string>;
  /** The app's build settings (builder, dockerfile-path, build args). */
  settings: BuildSettings;
  /** The app's buildpack list (`slipway buildpacks`); builders that have no such notion ignore it. */
  buildpacks?: string[];
  /** Container limits for the build (cpus, memoryMb, pids). The time limit is the pipeline's: `signal`. */
  limits: { cpus?: number; memoryMb?: number; pids?: number };
  /** Store tag to write the image under. */
  imageRef: string;
  /** The app's last built image still in the store (layer reuse), if any. */
  previousImageRef?: string;
  /** Scratch space, kept on failure for inspection. */
  workspaceDir: string;
  /** The app's build cache directory. */
  cacheDir: string;
  /** Labels every container the build starts carries (ownership, for the sweep of stale ones). */
  labels: Record<string, string>;
  /** Aborted on cancel and at the time limit; its reason is the error to report. */
  signal: AbortSignal;
  /** A line for the person watching (buildpack output). */
  output(line: string): void;
  /** A step finished, with its duration. */
  progress(step: { step: string; ms: number }): void;
  /** Which source chose the buildpacks, as soon as it is known (buildpack builders only). */
  onBuildpacksChosen?(from: BuildpackOrigin): void;
}

export interface BuiltImage {
  imageRef: string;
  imageDigest: string;
  /** Process type → command (Procfile-style); `release` is not in here but in releaseCommand. */
  processTypes: Record<string, string>;
  releaseCommand?: string;
  /** How the image runs when it has no buildpack launcher (Dockerfile builds, image deploys). */
  runSpec?: ImageRunSpec;
  /** Recorded on the build: what built it, and how long each step took. */
  metadata: {
    buildpacks: Array<{ id: string; version: string }>;
    buildpacksFrom?: BuildpackOrigin;
    phaseTimings: Record<string, number>;
  };
}

export interface Builder {
  readonly name: string;
  /** Whether this builder applies to the source (e.g. a Dockerfile exists). Absent: always. */
  detect?(source: BuildSource, app: DetectContext): boolean | Promise<boolean>;
  build(source: BuildSource, ctx: BuildContext): Promise<BuiltImage>;
}
