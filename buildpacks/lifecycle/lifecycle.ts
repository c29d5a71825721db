import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { SlipwayError, isSlipwayError } from '../../common/errors';
import { assertAppName } from '../../common/names';
import type { ImageStore, LayerCompression } from '../oci/layout';
import { analyze } from './analyze';
import { expandGroup } from './buildpacks';
import { buildPhase } from './build';
import { openCache } from './cache';
import { adoptBuildContainer, DEFAULT_LIMITS, startBuildContainer, type BuildContainer } from './container';
import { adoptSlot, returnLegacyCache, type ContainerPool, type PooledSlot } from './pool';
import type { PhaseContext } from './context';
import { detect } from './detect';
import { exportImage } from './export';
import { restore } from './restore';
import { describeOrigin, selectBuildpacks, type BuildpackOrigin } from './select';
import { writeToml } from './toml-files';
import {
  binds,
  createWorkspaceDirs,
  ensureDownloadCache,
  installBuildpacks,
  prepareWorkspace,
  workspacePaths,
} from './workspace';
import { readFileIn } from './safe-fs';

export { rebase } from './rebase';

/**
 * The build lifecycle: analyze -> detect -> restore -> build -> export, turning an app's source
 * into an OCI image in the platform's store. Buildpack code runs only inside one build container
 * (the stack's build image, uid 1000, limits, no Docker socket); everything else (plan
 * resolution, metadata, tars, hashing) runs here on the host. See docs/lifecycle.md.
 */
export interface BuildOptions {
  appName: string;
  sourceDir: string;
  workspaceDir: string;
  cacheDir: string;
  store: ImageStore;
  docker: Docker;
  stack: string;
  /** Store tag to write, e.g. apps/myapp:b-<id>. */
  imageRef: string;
  previousImageRef?: string;
  buildpacks?: string[];
  env: Record<string, string>;
  sourceVersion?: string;
  /** Container limits. The wall-clock limit is the caller's: abort `signal` (with the reason to report). */
  limits?: { cpus?: number; memoryMb?: number; pids?: number };
  caBundle: string;
  /** Extra labels for build containers. */
  labels?: Record<string, string>;
  output: (line: string) => void;
  /** Structured progress: one event per finished phase, for callers that render or record it. */
  progress?: (event: LifecycleStep) => void;
  /** Print the "Building APP on the STACK stack" header (default true; a push says it itself). */
  announce?: boolean;
  /** Stops the build; a SlipwayError reason (a time limit, a cancel) is what build() rejects with. */
  signal?: AbortSignal;
  /** Extra directories holding buildpacks to find by id (besides buildpacks/builtin). */
  buildpackDirs?: string[];
  /** Where buildpacks fetched by URL are cached (default: <cacheDir>/buildpacks). */
  buildpackCacheDir?: string;
  /** Allow absolute host directories in `buildpacks` (local builds and tests; never for pushes). */
  allowHostPaths?: boolean;
  /** host:port pairs on private addresses buildpack URLs may reach (SLIPWAY_BUILDPACK_FETCH_ALLOW). */
  buildpackFetchAllow?: string[];
  /** Heroku's buildpack names resolve to the built-in ones (platform setting; default on). */
  buildpackAliases?: boolean;
  /** Which source chose the buildpacks (select.ts), reported instead of printed. */
  onBuildpacksChosen?: (origin: BuildpackOrigin) => void;
  /** New layers as plain tars (default: the local dockerd pulls them over loopback) or gzip level 1. */
  layerCompression?: LayerCompression;
  /**
   * A per-machine directory shared by every build, mounted at /cnb/downloads, where built-in
   * buildpacks keep downloaded runtimes named by their registry integrity hash and verify every
   * file they take from it (docs/lifecycle.md "Downloads"). Unset: no shared downloads.
   */
  downloadCacheDir?: string;
  /** Pre-started build containers (pool.ts); without it every build starts its own. */
  pool?: ContainerPool;
}

/** A lifecycle phase finished: select, prepare, analyze, container, detect, restore, build, export. */
export interface LifecycleStep {
  step: string;
  ms: number;
}

export interface BuildResult {
  imageRef: string;
  manifestDigest: string;
  configDigest: string;
  processTypes: Record<string, string>;
  defaultProcess?: string;
  releaseCommand?: string;
  buildpacks: Array<{ id: string; version: string }>;
  /** Which source chose the buildpacks (select.ts). */
  buildpackOrigin: BuildpackOrigin;
  phaseTimings: Record<string, number>;
  layersWritten: number;
  layersReused: number;
}

const IMAGE_REF_RE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function assertImageRef(ref: string): string {
  if (!IMAGE_REF_RE.test(ref)) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(ref)} is not a valid image reference`, {
      hint: 'use repository:tag, for example apps/myapp:b-12',
    });
  }
  return ref;
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
  const appName = assertAppName(opts.appName);
  assertImageRef(opts.imageRef);
  if (opts.previousImageRef) assertImageRef(opts.previousImageRef);
  if (!fs.existsSync(opts.sourceDir) || !fs.statSync(opts.sourceDir).isDirectory()) {
    throw new SlipwayError('INVALID_INPUT', `the source directory ${opts.sourceDir} does not exist`, {
      hint: 'give the directory of the app to build',
    });
  }
  const inside = path.relative(path.resolve(opts.workspaceDir), path.resolve(opts.sourceDir));
  if (!inside.startsWith('..') && !path.isAbsolute(inside)) {
    throw new SlipwayError(
      'INVALID_INPUT',
      'the source directory is inside the build workspace, which is emptied at the start of a build',
      {
        hint: 'give build() a workspaceDir next to the source, not around it',
      },
    );
  }
  const limits = {
    ...DEFAULT_LIMITS,
    ...Object.fromEntries(Object.entries(opts.limits ?? {}).filter(([, v]) => v !== undefined)),
  };
  const timings: Record<string, number> = {};
  const started = Date.now();
  const time = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    // A cancel or time limit that arrived during the last phase stops the build before the next.
    if (abort.signal.aborted) throw abort.signal.reason;
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timings[phase] = Math.round(performance.now() - t0);
      opts.progress?.({ step: phase, ms: timings[phase] });
    }
  };
  const ws = workspacePaths(opts.workspaceDir, opts.cacheDir);
  const abort = new AbortController();
  const onAbort = () => abort.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let containerP: Promise<BuildContainer> | undefined;
  let pooled: PooledSlot | undefined;
  const appLegacyCache = ws.legacyCache;
  if (opts.announce !== false) opts.output(`-----> Building ${appName} on the ${opts.stack} stack`);

  try {
    const selection = await time('select', () =>
      selectBuildpacks({
        sourceDir: opts.sourceDir,
        buildpacks: opts.buildpacks,
        env: opts.env,
        buildpackDirs: opts.buildpackDirs,
        allowHostPaths: opts.allowHostPaths,
        fetchAllow: opts.buildpackFetchAllow,
        aliases: opts.buildpackAliases,
        output: opts.output,
        fetchCacheDir: opts.buildpackCacheDir ?? path.join(opts.cacheDir, 'buildpacks'),
      }),
    );
    // The platform reports it as an event when it asks to; otherwise it is a line of the output.
    if (opts.onBuildpacksChosen) opts.onBuildpacksChosen(selection.origin);
    else opts.output(`-----> Buildpacks chosen by ${describeOrigin(selection.origin)}`);
    const groups = selection.order.flatMap((g) => expandGroup(g, selection.index));
    // project.toml [[build.env]] first, config vars win over it.
    const env = { ...selection.env, ...opts.env };
    // Start the container first (the slowest step); the host fills the workspace meanwhile.
    if (opts.downloadCacheDir) ensureDownloadCache(opts.downloadCacheDir);
    pooled = await opts.pool?.take(opts.stack);
    if (pooled) {
      // Its mounts point at the slot: the slot becomes this build's workspace (a rename).
      adoptSlot(ws, pooled);
      containerP = adoptBuildContainer({
        docker: opts.docker,
        container: pooled.container,
        limits,
        signal: abort.signal,
      });
    } else {
      createWorkspaceDirs(ws);
      containerP = startBuildContainer({
        docker: opts.docker,
        image: `slipway/${opts.stack}-build:latest`,
        binds: binds(ws, opts.caBundle, opts.downloadCacheDir),
        limits,
        labels: { 'io.slipway.app': appName, ...opts.labels },
        signal: abort.signal,
      });
    }
    containerP.catch(() => {});
    await time('prepare', async () => {
      await prepareWorkspace(ws, { sourceDir: opts.sourceDir, env, exclude: selection.exclude });
      const all = [...new Map(groups.flat().map((m) => [`${m.bp.id}@${m.bp.version}`, m.bp])).values()];
      await installBuildpacks(ws, all);
      writeToml(path.join(ws.root, 'order.toml'), { order: selection.order.map((g) => ({ group: g })) });
    });
    const ctx: PhaseContext = {
      appName,
      stack: opts.stack,
      ws,
      store: opts.store,
      docker: opts.docker,
      env,
      sourceVersion: opts.sourceVersion,
      output: opts.output,
      container: () => containerP!,
    };
    const analyzed = await time('analyze', () =>
      analyze({ store: opts.store, stack: opts.stack, previousImageRef: opts.previousImageRef, workspaceDir: ws.root }),
    );
    await time('container', () => containerP!);
    const detected = await time('detect', () => detect(ctx, groups));
    const cache = openCache(ws.cnbCache);
    const restored = await time('restore', () =>
      restore({ ws, group: detected.group, previous: analyzed.previous?.metadata, cache }),
    );
    const built = await time('build', () => buildPhase(ctx, detected.group, detected.plan));
    // The container (frozen now) is not needed for export: its removal overlaps the export and is
    // awaited before build() returns, so a caller that exits right away leaves nothing behind.
    const removing = containerP.then((c) => c.remove()).catch(() => {});
    opts.output(`-----> Exporting ${opts.imageRef}`);
    const exported = await time('export', () =>
      exportImage({
        ws,
        store: opts.store,
        imageRef: opts.imageRef,
        appName,
        stack: opts.stack,
        analyzed,
        built,
        restored,
        cache,
        sourceVersion: opts.sourceVersion,
        output: opts.output,
        compression: opts.layerCompression,
      }),
    );
    const processTypes: Record<string, string> = {};
    let releaseCommand: string | undefined;
    for (const p of built.processes) {
      const text = commandText(p.command, p.args, p.direct);
      if (p.type === 'release') releaseCommand = text;
      else processTypes[p.type] = text;
    }
    await removing;
    timings.total = Date.now() - started;
    // The buildpacks' own run time (recorded by the step runner) vs everything else.
    let ownMs = 0;
    try {
      for (const l of readFileIn(ws.root, path.join(ws.io, 'timings')).split('\n'))
        ownMs += Number(l.split(' ')[0]) || 0;
    } catch {
      /* no steps ran */
    }
    timings.buildpacks = ownMs;
    timings.overhead = timings.total - ownMs;
    const shown = Object.entries(timings)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ');
    opts.output(
      `-----> Process types: ${Object.keys(processTypes).join(', ') || 'none'}${built.defaultProcess ? ` (default: ${built.defaultProcess})` : ''}`,
    );
    opts.output(`-----> Done: ${exported.layersWritten} layers written, ${exported.layersReused} reused (${shown})`);
    fs.rmSync(ws.root, { recursive: true, force: true });
    return {
      imageRef: opts.imageRef,
      manifestDigest: exported.manifestDigest,
      configDigest: exported.configDigest,
      processTypes,
      defaultProcess: built.defaultProcess === 'release' ? undefined : built.defaultProcess,
      releaseCommand,
      buildpacks: detected.group.map((b) => ({ id: b.id, version: b.version })),
      buildpackOrigin: selection.origin,
      phaseTimings: timings,
      layersWritten: exported.layersWritten,
      layersReused: exported.layersReused,
    };
  } catch (err) {
    if (abort.signal.aborted) {
      // The caller's reason (its time limit, its cancel) is the error; a bare abort is a cancel.
      const reason = abort.signal.reason as unknown;
      if (isSlipwayError(reason)) {
        throw new SlipwayError(reason.code, reason.message, {
          hint: reason.hint,
          details: { ...reason.details, phase: 'build', workspace: ws.root },
          cause: err,
        });
      }
      const timedOut = (reason as Error | undefined)?.name === 'TimeoutError';
      throw new SlipwayError(
        timedOut ? 'TIMEOUT' : 'BUILD_FAILED',
        timedOut ? 'the build took longer than its time limit' : 'the build was cancelled',
        {
          hint: timedOut ? 'make the build faster (cache dependencies), or give it more time' : 'start the build again',
          details: { phase: 'build', workspace: ws.root },
          cause: err,
        },
      );
    }
    if (isSlipwayError(err)) {
      throw new SlipwayError(err.code, err.message, {
        hint: err.hint,
        details: { ...err.details, workspace: ws.root },
        cause: err.cause,
      });
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    // On failure, wait for the removal so nothing is left running when build() rejects.
    if (containerP) await containerP.then((c) => c.remove()).catch(() => {});
    if (pooled) returnLegacyCache(pooled.cacheDir, appLegacyCache);
    // The next build of this stack finds a started container (its start is off this build's path).
    opts.pool?.refill(opts.stack);
    // A failed build's workspace is kept for inspection, but never with the config values in
    // clear text: platform/env goes as soon as no container can read it.
    fs.rmSync(path.join(ws.platform, 'env'), { recursive: true, force: true });
  }
}

/** A process as text for people and the Procfile-style API: shell words quoted only when needed. */
export function commandText(command: string[], args: string[], direct: boolean): string {
  if (!direct) return [...command, ...args].join(' ');
  const q = (w: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
  return [...command, ...args].map(q).join(' ');
}
