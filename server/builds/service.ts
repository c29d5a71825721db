import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import { SlipwayError, isSlipwayError } from '../../common/errors';
import { assertAppName } from '../../common/names';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { readUntrusted } from '../../buildpacks/lifecycle/safe-fs';
import { extractArchive } from '../../buildpacks/lifecycle/safe-extract';
import type { LogSink } from '../logs/types';
import type { State } from '../state';
import type { BuildRow } from '../state/repos/builds';
import { createBuildLog, type BuildLog } from './build-log';
import { languageHints } from './language-hints';
import { commitLabel } from './commit-label';
import { BUILTIN_DIR } from '../../buildpacks/lifecycle/buildpacks';
import type { BuildQueue } from './queue';
import { limitMessage, limitsOf, ownerOfApp } from '../auth/limits';
import type { BuildFn, ReleaseFn } from './types';
import type { StackProvider } from '../../stacks/on-demand';
import { stackInfo } from '../../stacks/info';

export interface BuildServiceDeps {
  state: State;
  paths: HomePaths;
  config: Pick<SlipwayConfig, 'domain' | 'httpPort' | 'buildTimeoutMs' | 'caBundle' | 'home'> & Partial<Pick<SlipwayConfig, 'buildpackFetchAllow' | 'limits' | 'buildpackAliases'>>;
  store: ImageStore;
  docker: Docker;
  queue: BuildQueue;
  /** buildpacks/lifecycle `build`. */
  build: BuildFn;
  /** server/releases createFromBuild; without it a build stops after the image is written. */
  release?: ReleaseFn;
  logs?: LogSink;
  /** Builds an app's stack when it is missing (first use); without it the stack must exist. */
  stacks?: StackProvider;
}

export interface RunBuildInput {
  appName: string;
  user: { id: number; email: string } | null;
  /** Full commit SHA being built. */
  sourceVersion: string;
  /** The commit's subject line, when the pusher's side could read it. */
  subject?: string;
  /** A tar stream of the source tree (`git archive`). */
  source: Readable;
  /** Aborts when the pushing client goes away (before the release starts). */
  signal?: AbortSignal;
  /** Lines for the pushing client, Heroku-style. */
  output: (line: string) => void;
  /** Called once the build is recorded (its id is known): a rebuild answers the API with it. */
  onCreated?: (build: BuildRow) => void;
  /** Runs after the build, just before the release; throwing fails the push (git: ref moved). */
  beforeRelease?: () => Promise<void>;
}

export interface BuildOutcome {
  build: BuildRow;
  releaseVersion?: number;
  /** What went wrong, for the client: the message and hint lines already went to output. */
  error?: SlipwayError;
}

const CANCELLED = { cancelled: true };
const KEEP_LOGS = 50;
const KEEP_FAILED_WORKSPACES = 2;
export const isCancellation = (err: unknown) => isSlipwayError(err) && err.details?.cancelled === true;

/**
 * Runs builds: unpack the pushed source into builds/ID/source, wait for the app's turn in the
 * queue, run the buildpack lifecycle, then hand the image to the release service (release phase +
 * zero-downtime deploy). Every build is recorded (table builds) and logged (builds/ID/build.log).
 *
 * Cancellation: the client's signal and `cancel()` abort the build until the release starts;
 * after that the deploy always runs to its end, so the pushed ref and the serving release agree.
 */
export function createBuildService(deps: BuildServiceDeps) {
  const { state, paths } = deps;
  const active = new Map<string, { appName: string; log: BuildLog; abort: AbortController; releasing: boolean }>();

  function appUrl(appName: string): string {
    const port = deps.config.httpPort === 80 ? '' : `:${deps.config.httpPort}`;
    return `http://${appName}.${deps.config.domain}${port}/`;
  }

  async function previousImageRef(appId: number, appName: string): Promise<string | undefined> {
    for (const b of state.builds.listForApp(appId, 20)) {
      if (b.status !== 'succeeded') continue;
      const ref = `apps/${appName}:${b.id}`;
      if (await deps.store.resolve(ref).catch(() => undefined)) return ref;
    }
    return undefined;
  }

  async function run(input: RunBuildInput): Promise<BuildOutcome> {
    const appName = assertAppName(input.appName);
    const app = state.apps.require(appName);
    const config = deps.config;
    const id = randomUUID();
    const dir = path.join(paths.builds, id);
    const sourceDir = path.join(dir, 'source');
    const workspaceDir = path.join(dir, 'workspace');
    fs.mkdirSync(sourceDir, { recursive: true });
    fs.mkdirSync(workspaceDir, { recursive: true });
    const log = createBuildLog(path.join(dir, 'build.log'));
    const row = state.builds.create({ id, appId: app.id, sourceVersion: input.sourceVersion, sourceSubject: input.subject ?? null, userId: input.user?.id ?? null, logPath: log.file });
    input.onCreated?.(row);

    const abort = new AbortController();
    abort.signal.addEventListener('abort', () => console.error(`slipway-server: build ${id} of ${appName}: stopping (${(abort.signal.reason as Error)?.message})`), { once: true });
    const entry = { appName, log, abort, releasing: false };
    active.set(id, entry);
    const onClientGone = () => {
      if (!entry.releasing) {
        abort.abort(new SlipwayError('BUILD_FAILED', 'build cancelled: the pushing client disconnected', { details: CANCELLED }));
      }
    };
    if (input.signal?.aborted) onClientGone();
    input.signal?.addEventListener('abort', onClientGone, { once: true });

    const out = (line: string) => {
      log.write(line);
      try {
        input.output(line);
      } catch {
        // the client is gone; the log file still has everything
      }
    };
    const short = commitLabel(input.sourceVersion, input.subject);
    deps.logs?.write(appName, { source: 'build', dyno: 'build', line: `Build ${id} of ${short} started${input.user ? ` by ${input.user.email}` : ''}` });

    let releaseSlot: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Unpack while waiting for our turn: the upload is done by the time the build may start.
      const unpacked = extractTar(input.source, sourceDir);
      unpacked.catch(() => undefined); // awaited below; never an unhandled rejection while queued
      releaseSlot = await deps.queue.acquire({ appName, sha: input.sourceVersion, signal: abort.signal, owner: config.limits ? buildOwner(state, { limits: config.limits }, app) : undefined, onWait: (m) => out(`-----> ${m[0].toUpperCase()}${m.slice(1)}`) });
      await unpacked;
      if (abort.signal.aborted) throw abort.signal.reason;

      state.builds.markRunning(id);
      timer = setTimeout(() => {
        abort.abort(
          new SlipwayError('TIMEOUT', `build exceeded the time limit of ${formatDuration(deps.config.buildTimeoutMs)}`, {
            hint: 'make the build faster (cache dependencies), or raise SLIPWAY_BUILD_TIMEOUT_S',
          }),
        );
      }, deps.config.buildTimeoutMs);

      const stack = stackFromAppJson(sourceDir, app, state, out);
      out(`-----> Building on the ${stack} stack`);
      await deps.stacks?.ensure(stack, out);
      if (abort.signal.aborted) throw abort.signal.reason;
      const result = await deps.build({
        appName,
        sourceDir,
        workspaceDir,
        cacheDir: path.join(paths.caches, appName),
        store: deps.store,
        docker: deps.docker,
        stack,
        imageRef: `apps/${appName}:${id}`,
        previousImageRef: await previousImageRef(app.id, appName),
        buildpacks: app.buildpacks.length > 0 ? app.buildpacks : undefined,
        env: state.configVars.all(app.id),
        sourceVersion: input.sourceVersion,
        limits: app.buildLimits,
        caBundle: deps.config.caBundle,
        buildpackFetchAllow: deps.config.buildpackFetchAllow,
        buildpackAliases: deps.config.buildpackAliases,
        // The build id + home labels prove ownership for crash cleanup. (The runtime's orphan sweep
        // only considers containers with io.slipway.process, so it never touches a build.)
        labels: { 'io.slipway.managed': 'true', 'io.slipway.home': deps.config.home, 'io.slipway.build': id },
        // The lifecycle announces the stack itself (for `slipway build`); the push said it already.
        output: (line) => {
          if (!/^-----> Building \S+ on the \S+ stack$/.test(line)) out(line);
        },
        signal: abort.signal,
      });
      if (abort.signal.aborted) throw abort.signal.reason;
      clearTimeout(timer);

      await input.beforeRelease?.();
      let releaseVersion: number | undefined;
      if (deps.release) {
        // From here on the deploy runs to its end even if the client goes away (see above).
        entry.releasing = true;
        out('-----> Launching...');
        let saidReleased = false;
        const release = await deps.release({
          appName,
          buildId: id,
          commit: short,
          imageRef: result.imageRef,
          imageDigest: result.manifestDigest,
          processTypes: result.processTypes,
          releaseCommand: result.releaseCommand,
          appJson: readAppJson(sourceDir),
          user: input.user,
          output: (line) => {
            if (/^\s*Released v\d+/.test(line)) saidReleased = true;
            out(line.startsWith('-----> ') || line.startsWith(' !') || line.startsWith('       ') ? line : `       ${line}`);
          },
        });
        releaseVersion = release.version;
        if (!saidReleased) out(`       Released v${release.version}`);
        out(`       ${appUrl(appName)} deployed to Slipway`);
      } else {
        out('-----> Image built; no release service is configured on this server, so nothing was deployed');
      }
      state.builds.finish(id, {
        status: 'succeeded',
        imageDigest: result.manifestDigest,
        buildpacks: result.buildpacks,
        buildpacksFrom: result.buildpackOrigin,
        phaseTimings: result.phaseTimings,
        releaseVersion: releaseVersion ?? null,
      });
      fs.rmSync(sourceDir, { recursive: true, force: true });
      fs.rmSync(workspaceDir, { recursive: true, force: true });
      deps.logs?.write(appName, { source: 'build', dyno: 'build', line: `Build of ${short} succeeded${releaseVersion ? `, released v${releaseVersion}` : ''}` });
      state.events.add({ appId: app.id, appName, actor: input.user?.email ?? 'slipway', action: 'build.succeeded', message: `Build of ${short} succeeded`, data: { build: id, release: releaseVersion } });
      return { build: state.builds.get(id)!, releaseVersion };
    } catch (raw) {
      // A cancellation or timeout may surface as whatever the aborted step threw: report the reason.
      const err = toSlipwayError(abort.signal.aborted && !entry.releasing ? abort.signal.reason : raw);
      const cancelled = isCancellation(err);
      out(` !     ${err.message}`);
      if (err.hint) out(` !     ${err.hint}`);
      // A command that was not found: say which buildpack would install what the repository needs.
      if (err.details?.cause === 'command-not-found') for (const l of languageHints(sourceDir, BUILTIN_DIR)) out(` !     ${l}`);
      out(cancelled ? ' !     Push cancelled.' : ` !     Push rejected to ${appName}.`);
      state.builds.finish(id, { status: cancelled ? 'cancelled' : 'failed', error: err.message });
      // The workspace stays for inspection (docs/git-push.md); the source is in the repository anyway.
      fs.rmSync(sourceDir, { recursive: true, force: true });
      deps.logs?.write(appName, { source: 'build', dyno: 'build', line: `Build of ${short} ${cancelled ? 'cancelled' : 'failed'}: ${err.message}` });
      state.events.add({ appId: app.id, appName, actor: input.user?.email ?? 'slipway', action: cancelled ? 'build.cancelled' : 'build.failed', message: `Build of ${short} ${cancelled ? 'cancelled' : 'failed'}`, data: { build: id, error: err.message } });
      return { build: state.builds.get(id)!, error: err };
    } finally {
      clearTimeout(timer);
      input.signal?.removeEventListener('abort', onClientGone);
      releaseSlot?.();
      active.delete(id);
      log.close();
      pruneBuildDirs(app.id);
    }
  }

  /**
   * Disk stays bounded: the last KEEP_LOGS builds of an app keep their log, the last
   * KEEP_FAILED_WORKSPACES failed ones their workspace; older directories go.
   */
  function pruneBuildDirs(appId: number): void {
    let failed = 0;
    state.builds.listForApp(appId, 500).forEach((b, i) => {
      const dir = path.join(paths.builds, b.id);
      if (i >= KEEP_LOGS) fs.rmSync(dir, { recursive: true, force: true });
      else if (b.status !== 'running' && b.status !== 'pending' && (b.status !== 'failed' || ++failed > KEEP_FAILED_WORKSPACES)) {
        fs.rmSync(path.join(dir, 'workspace'), { recursive: true, force: true });
      }
    });
  }

  return {
    run,
    /** Cancels a pending or running build. False when it is not running or already releasing. */
    cancel(buildId: string, by?: string): boolean {
      const entry = active.get(buildId);
      if (!entry || entry.releasing || entry.abort.signal.aborted) return false;
      entry.abort.abort(new SlipwayError('BUILD_FAILED', `build cancelled${by ? ` by ${by}` : ''}`, { details: CANCELLED }));
      return true;
    },
    /** The live log of a running build, or undefined when it has finished (read the file then). */
    liveLog(buildId: string): BuildLog | undefined {
      return active.get(buildId)?.log;
    },
    activeBuilds(): string[] {
      return [...active.keys()];
    },
    /**
     * On server start nothing can still be running: mark builds left pending/running as failed and
     * remove build containers a crash left behind (only this home's, proven by labels).
     */
    async failInterrupted(): Promise<number> {
      const n = state.builds.failInterrupted();
      try {
        const leftovers = await deps.docker.listContainers({
          all: true,
          filters: { label: ['io.slipway.managed=true', `io.slipway.home=${deps.config.home}`, 'io.slipway.build'] },
        });
        for (const c of leftovers) await deps.docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
      } catch (err) {
        console.error(`slipway-server: could not list leftover build containers: ${(err as Error).message}`);
      }
      return n;
    },
  };
}
export type BuildService = ReturnType<typeof createBuildService>;

function toSlipwayError(err: unknown): SlipwayError {
  if (isSlipwayError(err)) return err;
  return new SlipwayError('BUILD_FAILED', `build failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** The runtime-relevant parts of app.json (healthchecks, formation); anything malformed is ignored. */
/** app.json's formation and health checks, read like every untrusted file (safe-fs.ts); never fails the build. */
function readAppJson(sourceDir: string): { healthchecks?: Record<string, unknown[]>; formation?: Record<string, { quantity?: number; size?: string }>; bootTimeout?: number } {
  try {
    const text = readUntrusted(sourceDir, 'app.json');
    if (text === undefined) return {};
    const raw = JSON.parse(text) as Record<string, unknown>;
    const pick = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? v : undefined);
    return {
      ...(pick(raw.healthchecks) ? { healthchecks: raw.healthchecks as Record<string, unknown[]> } : {}),
      ...(pick(raw.formation) ? { formation: raw.formation as Record<string, { quantity?: number; size?: string }> } : {}),
      ...(raw.boot_timeout !== undefined ? { bootTimeout: raw.boot_timeout as number } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * app.json "stack" is honoured on an app's first deploy only (as Heroku's app.json is at app
 * setup): afterwards the app's stack is what stack:set says, and a differing app.json gets a note.
 */
function stackFromAppJson(sourceDir: string, app: { id: number; stack: string }, state: State, out: (line: string) => void): string {
  let wanted: unknown;
  try {
    wanted = (JSON.parse(fs.readFileSync(path.join(sourceDir, 'app.json'), 'utf8')) as Record<string, unknown>).stack;
  } catch {
    return app.stack;
  }
  if (typeof wanted !== 'string' || wanted === app.stack) return app.stack;
  const firstDeploy = !state.builds.listForApp(app.id, 50).some((b) => b.status === 'succeeded');
  if (!firstDeploy) {
    out(`       app.json asks for the ${wanted} stack; this app is on ${app.stack} (app.json's stack counts on the first deploy only: slipway stack:set ${wanted})`);
    return app.stack;
  }
  stackInfo(wanted); // an unknown stack fails the build, naming the stacks there are
  state.apps.setStack(app.id, wanted);
  out(`-----> Using the ${wanted} stack from app.json (first deploy)`);
  return wanted;
}

function formatDuration(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} minute${ms === 60_000 ? '' : 's'}` : `${Math.round(ms / 1000)} s`;
}

/**
 * Pushed source caps for unpacking (the git archive stream): generous; per-account source and
 * push size limits are separate (docs/security.md "Limits").
 */
export const SOURCE_ARCHIVE_LIMITS = { maxBytes: 4 * 1024 * 1024 * 1024, maxFiles: 1_000_000 };

/**
 * Unpacks a tar stream (git archive output) into dir with the safe extractor: symbolic links are
 * kept as links (apps use them) but never followed, and nothing else but files and directories is
 * accepted; then hands the tree to the build user (uid 1000; legacy buildpacks write into /app).
 */
async function extractTar(source: Readable, dir: string): Promise<void> {
  try {
    await extractArchive(source, dir, { ...SOURCE_ARCHIVE_LIMITS, allowSymlinks: true, label: 'the pushed source' });
  } catch (err) {
    source.resume();
    if (isSlipwayError(err)) throw err;
    throw new SlipwayError('BUILD_FAILED', `receiving the source failed: ${(err as Error).message}`);
  }
  if (process.getuid?.() === 0) {
    await new Promise<void>((resolve, reject) => execFile('chown', ['-R', '1000:1000', '--', dir], (err) => (err ? reject(err) : resolve())));
  }
}

/** The app owner's build slots for the queue: builds of one user's apps beyond the limit wait. */
function buildOwner(state: State, config: Pick<SlipwayConfig, 'limits'>, app: { name: string; ownerId: number }) {
  const owner = ownerOfApp(state, app.ownerId);
  const limit = limitsOf(state, config, owner.id).builds;
  return {
    key: String(owner.id),
    limit,
    waiting: (running: number) => {
      const m = limitMessage('builds', owner.email, running, limit, ` (owner of ${app.name})`);
      return `waiting for a build slot: ${m.message}; ${m.hint}`;
    },
  };
}
