import { randomBytes } from 'node:crypto';
import type { HomePaths } from '../../common/config';
import type { ImageStore } from '../../buildpacks/oci/layout';
import type { LogSink } from '../logs/types';
import type { State } from '../state';
import type { AppRow } from '../state/repos/apps';
import type { ReleaseRow } from '../state/repos/releases';
import type { BackoffPolicy } from './backoff';
import type { ContainerDriver, DynoState, WebBackend } from './types';
import { portOf } from './process-command';

/** What createRuntime needs. Everything host-specific comes in here; nothing is read from env. */
export interface RuntimeDeps {
  state: State;
  driver: ContainerDriver;
  paths: HomePaths;
  /** Makes a release's image available to the engine; returns the engine's image name. */
  ensureImage: (ref: string) => Promise<string>;
  /** Publishes the route table with these healthy web dynos; called after every swap, scale and stop. */
  publishRoutes: (web: ReadonlyMap<string, WebBackend[]>) => Promise<void>;
  logs: LogSink;
  /** The OCI store: maps release manifests to engine image IDs for garbage collection. */
  store: ImageStore;
  /** Store blob GC (server/images), given the refs to keep. */
  collectStoreGarbage: (keepRefs: string[]) => Promise<unknown>;
  options?: Partial<RuntimeOptions>;
}

export interface RuntimeOptions {
  /** $PORT inside every container; the web dyno's port is published on 127.0.0.1. */
  webPort: number;
  /** How long a new web dyno has to answer HTTP when the app has no healthchecks. */
  bootTimeoutMs: number;
  /** The most an app may ask for (ps:boot-timeout, app.json boot_timeout). */
  bootTimeoutMaxMs: number;
  /** SIGTERM to SIGKILL when stopping a dyno. */
  drainGraceMs: number;
  /** Pause between publishing routes without a dyno and signalling it, for the router to reload. */
  routeSettleMs: number;
  backoff: BackoffPolicy;
  reconcileIntervalMs: number;
  /** Releases whose images garbage collection keeps per app (plus anything running). */
  keepReleases: number;
  /** Garbage collection runs this long after the last successful deploy (debounced); 0: never on its own. */
  gcAfterDeployMs: number;
  /** A release command running longer than this is stopped and the deploy fails. */
  releaseTimeoutMs: number;
  /** Garbage collection clears an app's build cache (caches/APP) beyond this size, when no build runs. */
  buildCacheCapMb: number;
}

export const DEFAULT_OPTIONS: RuntimeOptions = {
  webPort: 5000,
  bootTimeoutMs: 60_000,
  bootTimeoutMaxMs: 15 * 60_000,
  drainGraceMs: 30_000,
  routeSettleMs: 1500,
  backoff: { baseMs: 1000, capMs: 5 * 60_000, resetAfterMs: 10 * 60_000 },
  reconcileIntervalMs: 10_000,
  keepReleases: 5,
  gcAfterDeployMs: 60_000,
  releaseTimeoutMs: 30 * 60_000,
  buildCacheCapMb: 2048,
};

/** A dyno as the runtime tracks it. `retired` dynos are draining and no longer listed or routed. */
export interface Dyno {
  app: string;
  type: string;
  index: number;
  name: string;
  release: number;
  containerId: string;
  address: string | null;
  size: string;
  state: DynoState;
  since: number;
  startedAt: number;
  restarts: number;
  nextRestartAt: number | null;
  exitCode: number | null;
  retired: boolean;
  stopLogs?: () => void;
  timer?: NodeJS.Timeout;
}

export interface Ctx {
  deps: RuntimeDeps;
  opts: RuntimeOptions;
  driver: ContainerDriver;
  state: State;
  /** Live dynos per app (retired ones are removed from here when they start draining). */
  table: Map<string, Dyno[]>;
  /** Containers being created or run as one-offs: the orphan sweep leaves them alone. */
  busy: Set<string>;
  drains: Set<Promise<void>>;
  /** Running one-off dynos per app (shown by listDynos as type "run"). */
  oneOffs: Map<string, Map<string, { dyno: string; since: number; release: number; size: string; command: string }>>;
  /** Set by Runtime.stop(): no more restarts or reactions to exits. */
  stopped: boolean;
  withAppLock<T>(app: string, fn: () => Promise<T>): Promise<T>;
  publish(): Promise<void>;
  platformLog(app: string, dyno: string, line: string): void;
  imageFor(release: ReleaseRow): Promise<string>;
  /** Forget resolved engine image names (after GC removed some). */
  forgetImages(): void;
}

export const dynosOf = (ctx: Ctx, app: string): Dyno[] => {
  let list = ctx.table.get(app);
  if (!list) ctx.table.set(app, (list = []));
  return list;
};

export function currentRelease(ctx: Ctx, app: AppRow): ReleaseRow | undefined {
  return app.currentReleaseId ? ctx.state.releases.getById(app.currentReleaseId) : undefined;
}

/** A container's environment: the release's config snapshot plus what the platform sets. */
export function dynoEnv(ctx: Ctx, app: string, release: ReleaseRow, dyno: string): Record<string, string> {
  return {
    ...ctx.state.releases.configOf(release),
    PORT: String(portOf(release, ctx.opts.webPort)),
    DYNO: dyno,
    SLIPWAY_APP: app,
    SLIPWAY_RELEASE: `v${release.version}`,
  };
}

export const containerName = (app: string, dyno: string, version: number) =>
  `slipway-${app}-${dyno}-v${version}-${randomBytes(3).toString('hex')}`;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
