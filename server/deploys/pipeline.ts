import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import { SlipwayError, isSlipwayError } from '../../common/errors';
import { assertAppName } from '../../common/names';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { createBuildLog, type BuildLog } from '../builds/build-log';
import { buildOwner } from '../builds/owner';
import type { BuildQueue, ReleaseSlot } from '../builds/queue';
import type { LogSink } from '../logs/types';
import type { ReleaseService } from '../releases';
import type { State } from '../state';
import type { AppRow } from '../state/repos/apps';
import type { BuildRow } from '../state/repos/builds';
import type { ReleaseRow } from '../state/repos/releases';
import { createBuildDirs } from './build-dirs';
import type { Builder, BuildSource, BuiltImage } from './builders/types';
import { appLogLine, pushLines, shortVersion, type DeployEvent } from './events';
import { readAppJson, stackFromAppJson, unpackSource } from './source';
import type { StackProvider } from '../../stacks/on-demand';
import { sweepBuildContainers } from './sweep';
import { commitLabel } from './commit-label';
import type { WaitProgress } from '../runtime/types';
import { languageHints } from './language-hints';
import { BUILTIN_DIR } from '../../buildpacks/lifecycle/buildpacks';
import { createLogger } from '../../common/logger';

const logger = createLogger('slipway-server');

/**
 * The deploy pipeline: a push's whole journey, from the pushed source to the app serving it.
 *
 *   source   → the `git archive` stream unpacked into builds/ID/source (while queued)
 *   queue    → one build per app, a bounded number per machine (builds/queue.ts)
 *   builder  → an image + process table in the store (deploys/builders/, buildpacks first)
 *   release  → vN recorded: image, config snapshot, process types (releases.create)
 *   rollout  → release phase, new dynos checked, swapped in without downtime (releases.rollout)
 *   routes   → the app's URLs the router now serves with the new dynos
 *
 * Each step returns a typed result and reports progress as DeployEvents (events.ts), which the
 * git hook output, the build log and `slipway logs` render. The pipeline alone owns the build's
 * time limit and its cancellation (a client that goes away, `slipway builds:cancel`): both
 * abort one signal, until the release starts; from then on the deploy runs to its end, so the
 * pushed ref and the serving release agree.
 */
export interface PipelineDeps {
  state: State;
  paths: HomePaths;
  config: Pick<SlipwayConfig, 'domain' | 'httpPort' | 'buildTimeoutMs' | 'home' | 'limits'>;
  store: Pick<ImageStore, 'resolve'>;
  docker: Parameters<typeof sweepBuildContainers>[0];
  queue: BuildQueue;
  /** Tried in order: the first whose detect() accepts the source (or that has none) builds it. */
  builders: Builder[];
  releases: Pick<ReleaseService, 'buildSpec' | 'create' | 'rollout'>;
  /** Builds an app's stack when it is missing (its first use). */
  stacks: StackProvider;
  logs: LogSink;
}

export interface DeployInput {
  appName: string;
  user: { id: number; email: string } | null;
  /** Full commit SHA being built (or `sha256:…` of an uploaded tarball, or an image reference). */
  sourceVersion: string;
  /** The commit's subject line, when the pusher's side could read it. */
  subject?: string;
  /** A tar stream of the source tree (`git archive`, an uploaded tarball); absent for image deploys. */
  source?: Readable;
  /** Build with this builder rather than the first that detects the source (image deploys). */
  builder?: Builder;
  /** Aborts when the pushing client goes away (before the release starts). */
  signal?: AbortSignal;
  /** Progress, as it happens (the hook server renders it for the pushing client). */
  onEvent: (event: DeployEvent) => void;
  /** Called once the build is recorded (its id is known): a rebuild answers the API with it. */
  onCreated?: (build: BuildRow) => void;
  /** Runs after the build, just before the release; throwing fails the push (git: ref moved). */
  beforeRelease?: () => Promise<void>;
}

export interface DeployOutcome {
  build: BuildRow;
  releaseVersion?: number;
  /** What went wrong; its message and hint were already reported as a 'failed' event. */
  error?: SlipwayError;
}

/** One deploy in flight: what every step needs. */
interface Run {
  id: string;
  app: AppRow;
  input: DeployInput;
  dirs: ReturnType<ReturnType<typeof createBuildDirs>['create']>;
  log: BuildLog;
  /** builds/ID/events.jsonl, open for the run. */
  eventsFd: number;
  abort: AbortController;
  /** Set when the release starts: cancelling is no longer possible. */
  releasing: boolean;
  emit: (e: DeployEvent) => void;
  /** Stops listening to the client's signal. */
  detach: () => void;
  /** ms per push step (queue, source, build, image, release-phase, dynos, routes, total). */
  timings: Record<string, number>;
  timed<T>(step: string, fn: () => Promise<T>): Promise<T>;
}

const CANCELLED = { cancelled: true };
export const isCancellation = (err: unknown) => isSlipwayError(err) && err.details?.cancelled === true;

export function createDeployPipeline(deps: PipelineDeps) {
  const { state } = deps;
  const dirs = createBuildDirs(deps);
  const active = new Map<string, Run>();

  /** The journey of one push. Each line is one step; the functions below do the work. */
  async function deploy(input: DeployInput): Promise<DeployOutcome> {
    const run = begin(input);
    let slot: ReleaseSlot | undefined;
    try {
      const t0 = performance.now();
      const unpacked = receiveSource(run);
      slot = await run.timed('queue', () => waitForTurn(run));
      const source = await run.timed('source', () => unpacked);
      const image = await run.timed('build', () => buildImage(run, source));
      await run.input.beforeRelease?.();
      const pending = recordRelease(run, image, source);
      const release = await rollOut(run, pending);
      const routes = routesOf(run.app);
      run.timings.total = Math.round(performance.now() - t0);
      // Every step of the push on one line (the build's own phases are on its Done line).
      run.emit({ type: 'timing', timings: run.timings });
      return succeed(run, image, release, routes);
    } catch (err) {
      return fail(run, err);
    } finally {
      slot?.();
      end(run);
    }
  }

  /** Records the build (row, directories, log) and wires cancellation; emits 'started'. */
  function begin(input: DeployInput): Run {
    const app = state.apps.require(assertAppName(input.appName));
    const id = randomUUID();
    const d = dirs.create(id);
    const log = createBuildLog(d.log);
    const row = state.builds.create({
      id,
      appId: app.id,
      sourceVersion: input.sourceVersion,
      sourceSubject: input.subject ?? null,
      userId: input.user?.id ?? null,
      logPath: log.file,
    });
    const run: Run = {
      id,
      app,
      input,
      dirs: d,
      log,
      eventsFd: fs.openSync(d.events, 'a', 0o640),
      abort: new AbortController(),
      releasing: false,
      detach: () => undefined,
      timings: {},
      async timed(step, fn) {
        const t = performance.now();
        try {
          return await fn();
        } finally {
          run.timings[step] = Math.round(performance.now() - t);
        }
      },
      emit(e) {
        // The API serves these as they are (GET .../builds/ID/events); a full disk only loses them.
        try {
          fs.writeSync(run.eventsFd, `${JSON.stringify({ ...e, at: new Date().toISOString() })}\n`);
        } catch {
          // the build log below still has the rendered lines
        }
        for (const line of pushLines(e)) log.write(line);
        const appLine = appLogLine(e);
        if (appLine) deps.logs.write(app.name, { source: 'build', dyno: 'build', line: appLine });
        try {
          input.onEvent(e);
        } catch {
          // the client is gone; the log file still has everything
        }
      },
    };
    run.abort.signal.addEventListener(
      'abort',
      () => logger.warn(`build ${id} of ${app.name}: stopping (${(run.abort.signal.reason as Error)?.message})`),
      { once: true },
    );
    active.set(id, run);
    const onClientGone = () =>
      cancelRun(
        run,
        new SlipwayError('BUILD_FAILED', 'build cancelled: the pushing client disconnected', { details: CANCELLED }),
      );
    if (input.signal?.aborted) onClientGone();
    input.signal?.addEventListener('abort', onClientGone, { once: true });
    run.detach = () => input.signal?.removeEventListener('abort', onClientGone);
    run.emit({
      type: 'started',
      buildId: id,
      sourceVersion: input.sourceVersion,
      commit: commitLabel(input.sourceVersion, input.subject),
      user: input.user?.email ?? null,
    });
    input.onCreated?.(row);
    return run;
  }

  /** source: unpacks the pushed tree; runs while the build waits for its turn. */
  function receiveSource(run: Run): Promise<BuildSource> {
    const p = (run.input.source ? unpackSource(run.input.source, run.dirs.source) : Promise.resolve()).then(() => ({
      dir: run.dirs.source,
      version: run.input.sourceVersion,
    }));
    p.catch(() => undefined); // awaited by deploy(); never an unhandled rejection while queued
    return p;
  }

  /** queue: waits until this app has no other build running, its owner has a build slot and the machine one. */
  async function waitForTurn(run: Run): Promise<ReleaseSlot> {
    const slot = await deps.queue.acquire({
      appName: run.app.name,
      sha: run.input.sourceVersion,
      signal: run.abort.signal,
      owner: buildOwner(state, deps.config, run.app),
      onWait: (reason) => run.emit({ type: 'waiting', reason }),
    });
    if (run.abort.signal.aborted) {
      slot();
      throw run.abort.signal.reason;
    }
    return slot;
  }

  /** builder: the first builder that accepts the source writes the image, within the time limit. */
  async function buildImage(run: Run, source: BuildSource): Promise<BuiltImage> {
    if (run.abort.signal.aborted) throw run.abort.signal.reason;
    state.builds.markRunning(run.id);
    const { timeoutMs: appLimit, ...limits } = run.app.buildLimits;
    const limitMs = Math.min(deps.config.buildTimeoutMs, appLimit || Infinity);
    const timer = setTimeout(() => {
      run.abort.abort(
        new SlipwayError('TIMEOUT', `build exceeded the time limit of ${formatDuration(limitMs)}`, {
          hint: 'make the build faster (cache dependencies), or raise SLIPWAY_BUILD_TIMEOUT_S',
        }),
      );
    }, limitMs);
    try {
      const note = (line: string) => run.emit({ type: 'note', line });
      const stack = stackFromAppJson(source.dir, run.app, state, note);
      const builder = run.input.builder ?? (await chooseBuilder(run.app, source));
      run.emit({ type: 'building', stack, builder: builder.name });
      await deps.stacks.ensure(stack, note);
      if (run.abort.signal.aborted) throw run.abort.signal.reason;
      const image = await builder.build(source, {
        appName: run.app.name,
        buildId: run.id,
        stack,
        env: state.configVars.all(run.app.id),
        settings: run.app.buildSettings,
        buildpacks: run.app.buildpacks.length > 0 ? run.app.buildpacks : undefined,
        limits,
        imageRef: `apps/${run.app.name}:${run.id}`,
        previousImageRef: await previousImageRef(run.app),
        workspaceDir: run.dirs.workspace,
        cacheDir: path.join(deps.paths.caches, run.app.name),
        // The build id + home labels prove ownership for the sweep after a crash (sweep.ts).
        labels: { 'io.slipway.managed': 'true', 'io.slipway.home': deps.config.home, 'io.slipway.build': run.id },
        signal: run.abort.signal,
        output: (line) => run.emit({ type: 'build-output', line }),
        progress: (s) => run.emit({ type: 'step', ...s }),
        onBuildpacksChosen: (from) => run.emit({ type: 'buildpacks', from }),
      });
      // A step that finished just as the time ran out still counts as out of time.
      if (run.abort.signal.aborted) throw run.abort.signal.reason;
      return image;
    } finally {
      clearTimeout(timer);
    }
  }

  async function chooseBuilder(app: AppRow, source: BuildSource): Promise<Builder> {
    const detect = { appName: app.name, settings: app.buildSettings, buildpacks: app.buildpacks };
    for (const b of deps.builders) if (!b.detect || (await b.detect(source, detect))) return b;
    throw new SlipwayError('BUILD_FAILED', 'no builder can build this source', {
      hint: 'add a Procfile or a file a buildpack recognises (package.json, index.html, ...)',
    });
  }

  /** release: vN recorded (pending) with the image and the app's config now. No cancel after this. */
  function recordRelease(run: Run, image: BuiltImage, source: BuildSource) {
    run.releasing = true;
    run.emit({ type: 'launching' });
    return deps.releases.create(
      run.app.name,
      deps.releases.buildSpec({
        appName: run.app.name,
        buildId: run.id,
        commit: commitLabel(run.input.sourceVersion, run.input.subject),
        imageRef: image.imageRef,
        imageDigest: image.imageDigest,
        processTypes: image.processTypes,
        releaseCommand: image.releaseCommand,
        runSpec: image.runSpec,
        appJson: readAppJson(source.dir),
      }),
      run.input.user,
    );
  }

  /** rollout: release phase, new dynos checked and swapped in; vN is current when this returns. */
  async function rollOut(run: Run, pending: ReturnType<ReleaseService['create']>): Promise<ReleaseRow> {
    const output = Object.assign((line: string) => run.emit({ type: 'release-output', line }), {
      wait: (p: WaitProgress) => run.emit({ type: 'wait', ...p }),
      timing: (step: string, ms: number) => (run.timings[step] = ms),
    });
    const release = await deps.releases.rollout(pending, output);
    run.emit({ type: 'released', version: release.version });
    return release;
  }

  /** routes: the URLs the router serves the new dynos on (the rollout published them). */
  function routesOf(app: AppRow): { urls: string[] } {
    const port = deps.config.httpPort === 80 ? '' : `:${deps.config.httpPort}`;
    const custom = state.domains
      .list()
      .filter((d) => d.appId === app.id)
      .map((d) => `http://${d.hostname}${port}/`);
    return { urls: [`http://${app.name}.${deps.config.domain}${port}/`, ...custom] };
  }

  function succeed(run: Run, image: BuiltImage, release: ReleaseRow, routes: { urls: string[] }): DeployOutcome {
    run.emit({ type: 'deployed', url: routes.urls[0] });
    state.builds.finish(run.id, {
      status: 'succeeded',
      imageDigest: image.imageDigest,
      buildpacks: image.metadata.buildpacks,
      buildpacksFrom: image.metadata.buildpacksFrom,
      phaseTimings: image.metadata.phaseTimings,
      releaseVersion: release.version,
    });
    fs.rmSync(run.dirs.source, { recursive: true, force: true });
    fs.rmSync(run.dirs.workspace, { recursive: true, force: true });
    const short = commitLabel(run.input.sourceVersion, run.input.subject);
    run.emit({ type: 'succeeded', buildId: run.id, commit: short, version: release.version });
    state.events.add({
      appId: run.app.id,
      appName: run.app.name,
      actor: run.input.user?.email ?? 'slipway',
      action: 'build.succeeded',
      message: `Build of ${short} succeeded`,
      data: { build: run.id, release: release.version },
    });
    return { build: state.builds.get(run.id)!, releaseVersion: release.version };
  }

  function fail(run: Run, raw: unknown): DeployOutcome {
    // A cancellation or time-out may surface as whatever the aborted step threw: report the reason.
    const err = toSlipwayError(run.abort.signal.aborted && !run.releasing ? run.abort.signal.reason : raw);
    const cancelled = isCancellation(err);
    state.builds.finish(run.id, { status: cancelled ? 'cancelled' : 'failed', error: err.message });
    // A command that was not found: say which buildpack or builder would install what the repository needs.
    const hints = err.details?.cause === 'command-not-found' ? languageHints(run.dirs.source, BUILTIN_DIR) : [];
    const short = commitLabel(run.input.sourceVersion, run.input.subject);
    run.emit({
      type: 'failed',
      buildId: run.id,
      commit: short,
      app: run.app.name,
      message: err.message,
      hint: err.hint,
      hints,
      cancelled,
    });
    // The workspace stays for inspection (docs/git-push.md); the source is in the repository anyway.
    fs.rmSync(run.dirs.source, { recursive: true, force: true });
    state.events.add({
      appId: run.app.id,
      appName: run.app.name,
      actor: run.input.user?.email ?? 'slipway',
      action: cancelled ? 'build.cancelled' : 'build.failed',
      message: `Build of ${short} ${cancelled ? 'cancelled' : 'failed'}`,
      data: { build: run.id, error: err.message },
    });
    return { build: state.builds.get(run.id)!, error: err };
  }

  function end(run: Run): void {
    run.detach();
    active.delete(run.id);
    run.log.close();
    fs.closeSync(run.eventsFd);
    dirs.prune(run.app.id);
  }

  /** The one way a build is cancelled: before the release starts, by the client or a user. */
  function cancelRun(run: Run, reason: SlipwayError): boolean {
    if (run.releasing || run.abort.signal.aborted) return false;
    run.abort.abort(reason);
    return true;
  }

  async function previousImageRef(app: AppRow): Promise<string | undefined> {
    for (const b of state.builds.listForApp(app.id, 20)) {
      if (b.status !== 'succeeded') continue;
      const ref = `apps/${app.name}:${b.id}`;
      if (await deps.store.resolve(ref).catch(() => undefined)) return ref;
    }
    return undefined;
  }

  return {
    deploy,
    /** Cancels a pending or running build. False when it is not running or already releasing. */
    cancel(buildId: string, by?: string): boolean {
      const run = active.get(buildId);
      return (
        !!run &&
        cancelRun(
          run,
          new SlipwayError('BUILD_FAILED', `build cancelled${by ? ` by ${by}` : ''}`, { details: CANCELLED }),
        )
      );
    },
    /** Offboarding: cancels every build of this user not yet releasing; returns how many. */
    cancelByUser(userId: number, by: string): number {
      let n = 0;
      for (const run of active.values()) {
        if (run.input.user?.id !== userId) continue;
        const why = new SlipwayError('BUILD_FAILED', `build cancelled: its user was disabled by ${by}`, {
          details: CANCELLED,
        });
        if (cancelRun(run, why)) n++;
      }
      return n;
    },
    /** A build's progress as data: its DeployEvents with their times (the API's builds/ID/events). */
    events(buildId: string): Array<DeployEvent & { at: string }> {
      return dirs.readEvents(buildId) as Array<DeployEvent & { at: string }>;
    },
    /** The live log of a running build, or undefined when it has finished (read the file then). */
    liveLog(buildId: string): BuildLog | undefined {
      return active.get(buildId)?.log;
    },
    activeBuilds(): string[] {
      return [...active.keys()];
    },
    /** The builds' part of apps:destroy (server/apps/destroy.ts): build directories, build cache. */
    removeApp(app: AppRow): void {
      for (const run of active.values()) {
        if (run.app.id === app.id)
          cancelRun(
            run,
            new SlipwayError('BUILD_FAILED', 'build cancelled: the app was destroyed', { details: CANCELLED }),
          );
      }
      dirs.removeApp(app);
    },
    /**
     * On server start nothing can still be running: builds left pending/running are marked
     * failed, and their containers swept (sweep.ts).
     */
    async recover(): Promise<number> {
      const n = state.builds.failInterrupted();
      await sweepBuildContainers(deps.docker, {
        home: deps.config.home,
        buildTimeoutMs: deps.config.buildTimeoutMs,
      }).catch((err: Error) => logger.error(`could not sweep leftover build containers: ${err.message}`));
      return n;
    },
  };
}
export type DeployPipeline = ReturnType<typeof createDeployPipeline>;

function toSlipwayError(err: unknown): SlipwayError {
  if (isSlipwayError(err)) return err;
  return new SlipwayError('BUILD_FAILED', `build failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

function formatDuration(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} minute${ms === 60_000 ? '' : 's'}` : `${Math.round(ms / 1000)} s`;
}
