import type { BuildOptions, BuildResult } from '../../buildpacks/lifecycle';
import type { FromBuildInput } from '../releases';

/**
 * What the build orchestration needs from the lifecycle (buildpacks/lifecycle `build`) and the
 * release service (server/releases `createFromBuild`): their own types, narrowed to the fields
 * used here, so the orchestration is testable with a stand-in while the composition root wires
 * the real ones.
 */
export type LifecycleBuildOptions = Omit<BuildOptions, 'buildpackDirs' | 'buildpackCacheDir' | 'allowHostPaths'>;
export type LifecycleBuildResult = Pick<BuildResult, 'imageRef' | 'manifestDigest' | 'processTypes' | 'releaseCommand' | 'buildpacks' | 'buildpackOrigin' | 'phaseTimings'>;
export type BuildFn = (opts: LifecycleBuildOptions) => Promise<LifecycleBuildResult>;
export type ReleaseFromBuildInput = FromBuildInput;

/** Runs the release phase and the zero-downtime deploy; throws SlipwayError DEPLOY_FAILED on failure. */
export type ReleaseFn = (input: ReleaseFromBuildInput) => Promise<{ version: number }>;
