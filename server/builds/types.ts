import type Docker from 'dockerode';
import type { ImageStore } from '../../buildpacks/oci/layout';

/**
 * The shapes this module needs from the lifecycle (buildpacks/lifecycle/index.ts `build`) and the
 * release service (server/releases createFromBuild). Declared structurally here so the build
 * orchestration is testable with a stand-in and the composition root wires the real ones.
 */
export interface LifecycleBuildOptions {
  appName: string;
  sourceDir: string;
  workspaceDir: string;
  cacheDir: string;
  store: ImageStore;
  docker: Docker;
  stack: string;
  imageRef: string;
  previousImageRef?: string;
  buildpacks?: string[];
  env: Record<string, string>;
  sourceVersion?: string;
  limits?: { cpus?: number; memoryMb?: number; pids?: number; timeoutMs?: number };
  caBundle: string;
  labels?: Record<string, string>;
  output: (line: string) => void;
  signal?: AbortSignal;
}

export interface LifecycleBuildResult {
  imageRef: string;
  manifestDigest: string;
  processTypes: Record<string, string>;
  releaseCommand?: string;
  buildpacks: Array<{ id: string; version: string }>;
  phaseTimings: Record<string, number>;
}

export type BuildFn = (opts: LifecycleBuildOptions) => Promise<LifecycleBuildResult>;

export interface ReleaseFromBuildInput {
  appName: string;
  buildId: string;
  imageRef: string;
  imageDigest: string;
  processTypes: Record<string, string>;
  releaseCommand?: string;
  /** app.json's healthchecks and formation, read from the pushed source. */
  appJson?: { healthchecks?: Record<string, unknown[]>; formation?: Record<string, { quantity?: number; size?: string }> };
  user: { id: number; email: string } | null;
  output?: (line: string) => void;
}

/** Runs the release phase and the zero-downtime deploy; throws SlipwayError DEPLOY_FAILED on failure. */
export type ReleaseFn = (input: ReleaseFromBuildInput) => Promise<{ version: number }>;
