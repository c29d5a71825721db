/**
 * Typed artifacts exchanged between the phases. Each has a TOML form written into the build
 * workspace (order.toml, group.toml, plan.toml, analyzed.toml, metadata.toml, report.toml) so a
 * failed build can be inspected with the same file names the CNB platform spec uses.
 */

export type BuildpackKind = 'cnb' | 'legacy';

export interface Buildpack {
  id: string;
  version: string;
  /** CNB Buildpack API ("0.10"), or "legacy" for bin/detect + bin/compile buildpacks. */
  api: string;
  kind: BuildpackKind;
  /** Directory on the host. */
  dir: string;
  name?: string;
  homepage?: string;
  clearEnv: boolean;
  /** Composite buildpacks: groups of references, no bin/. */
  order?: OrderEntry[][];
  /** [[targets]] of buildpack.toml (API >= 0.10); absent = any target. */
  targets?: Array<{
    os?: string;
    arch?: string;
    variant?: string;
    distros: Array<{ name?: string; version?: string }>;
  }>;
}

export interface OrderEntry {
  id: string;
  version?: string;
  optional?: boolean;
}

export interface GroupMember {
  bp: Buildpack;
  optional: boolean;
}

export interface Provide {
  name: string;
}

export interface Require {
  name: string;
  metadata?: Record<string, unknown>;
}

export interface PlanOption {
  provides: Provide[];
  requires: Require[];
}

/** What one bin/detect said: its exit code, its output and its build plan (top level + [[or]]). */
export interface DetectResult {
  code: number;
  output: string;
  plan: PlanOption[];
}

export interface PlanEntry {
  providers: Array<{ id: string; version: string }>;
  requires: Require[];
}

export interface LayerMetadata {
  sha?: string;
  data?: Record<string, unknown>;
  build: boolean;
  launch: boolean;
  cache: boolean;
}

export interface BuildpackLayersMetadata {
  key: string;
  version: string;
  layers: Record<string, LayerMetadata>;
  store?: { metadata?: Record<string, unknown> };
}

/** The io.buildpacks.lifecycle.metadata label (camelCase JSON, like the reference lifecycle). */
export interface LifecycleMetadata {
  app: Array<{ sha: string }>;
  config: { sha: string };
  launcher: { sha: string };
  sbom?: { sha: string };
  buildpacks: BuildpackLayersMetadata[];
  runImage: { topLayer: string; reference: string; image: string };
  stack?: { runImage: { image: string } };
}

export interface ProcessDef {
  type: string;
  command: string[];
  args: string[];
  /** false: run through bash (legacy buildpacks, Buildpack API < 0.9 with direct = false). */
  direct: boolean;
  default: boolean;
  workingDir?: string;
  buildpackId: string;
}

export interface Analyzed {
  previousImage?: { reference: string; metadata: LifecycleMetadata };
  runImage: { reference: string; image: string; topLayer: string };
}

export interface PhaseOutput {
  (line: string): void;
}

export const escapeId = (id: string) => id.replace(/\//g, '_');

/**
 * Buildpack ids and versions come from untrusted files and end up in paths (layers/<id>, the
 * container's /cnb/buildpacks/...), so both follow a strict pattern: ids are "/"-separated
 * segments of letters, digits, ".", "_" and "-" that start with a letter or digit (never "." or
 * ".."); versions are one such segment. Nothing else is accepted anywhere.
 */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(?:\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const RESERVED_IDS = ['app', 'config', 'sbom', 'generated'];

export function isBuildpackId(id: string): boolean {
  return id.length <= 128 && ID_RE.test(id) && !id.includes('..') && !RESERVED_IDS.includes(id);
}

export function isBuildpackVersion(v: string): boolean {
  return v.length <= 64 && VERSION_RE.test(v) && !v.includes('..');
}
