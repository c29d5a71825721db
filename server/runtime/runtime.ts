import { SlipwayError } from '../../common/errors';
import { assertAppName, assertProcessType } from '../../common/names';
import type { ReleaseRow } from '../state/repos/releases';
import type { FormationRow } from '../state/repos/formation';
import { DEFAULT_OPTIONS, currentRelease, dynosOf, type Ctx, type RuntimeDeps } from './context';
import { collectAppGarbage, destroyApp, diskUsage, type GcReport } from './gc';
import { runDetached, runOneOff, runReleasePhase, type AttachedOptions, type OneOffOptions } from './one-off';
import { adopt, reconcileApp, rollout, stageRollout, type StagedRollout } from './rollout';
import { DEFAULT_SIZE, assertSize } from './sizes';
import { crash, toInfo } from './supervisor';
import type { DeployOutput, DynoInfo, WebBackend } from './types';
import { createLogger } from '../../common/logger';

const log = createLogger('slipway-server');

export type { RuntimeDeps, RuntimeOptions } from './context';
export type { ContainerDriver, DynoInfo, DynoState, WebBackend } from './types';
export type { GcReport } from './gc';
export type { StagedRollout } from './rollout';
export { createDockerDriver } from './docker/driver';
export { createSwarmDriver } from './swarm/driver';
export { SIZES, DEFAULT_SIZE } from './sizes';

/**
 * The runtime: runs each app's current release as its formation of dynos and keeps it running.
 * Desired state is in the database (formation × apps.current_release_id); the runtime converges
 * containers to it on every change, on container exits and every reconcileIntervalMs, and adopts
 * running containers after a server restart. All changes to one app are serialised.
 */
export interface Runtime {
  /**
   * Release phase, then the new web dynos of `release` started and checked: the returned rollout
   * is swapped in (zero downtime) or abandoned by the caller. The app stays locked until then.
   */
  stage(input: { appName: string; release: ReleaseRow; output?: DeployOutput }): Promise<StagedRollout>;
  scale(appName: string, changes: Record<string, number>): Promise<FormationRow[]>;
  setSize(appName: string, type: string, size: string): Promise<FormationRow[]>;
  /** Swarm placement constraints of a type (`node.labels.zone==a`); its dynos are replaced to apply them. */
  setPlacement(appName: string, type: string, constraints: string[]): Promise<string[]>;
  /** Without downtime; target: a process type ("web") or a dyno ("web.2"); none: every dyno. */
  restart(appName: string, target?: string): Promise<void>;
  listDynos(appName: string): Promise<DynoInfo[]>;
  runOneOff(opts: AttachedOptions): Promise<{ exitCode: number; dyno: string }>;
  runDetached(opts: OneOffOptions): Promise<{ dyno: string; containerId: string }>;
  /** Healthy web dynos, for the route table. */
  listWebBackends(appName: string): WebBackend[];
  /** The runtime's part of apps:destroy: dynos, one-offs, engine images (server/apps/destroy.ts does the rest). */
  destroyApp(appName: string): Promise<void>;
  diskUsage(appName: string): Promise<{ images: number; cache: number; repo: number }>;
  reconcile(appName?: string): Promise<void>;
  start(): Promise<void>;
  /** Stops supervising (timers, log follows, event watch). Containers keep running. */
  stop(): Promise<void>;
  collectGarbage(): Promise<GcReport>;
}

/** Swarm constraint syntax: `node.labels.zone==a`, `node.role!=manager`, `node.hostname==vm2`. */
export function assertPlacement(constraints: unknown): string[] {
  const list = Array.isArray(constraints) ? constraints : [];
  for (const c of list) {
    if (typeof c !== 'string' || !/^node\.[A-Za-z0-9_.-]+\s*(==|!=)\s*[A-Za-z0-9_.:-]+$/.test(c)) {
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(c)} is not a placement constraint`, {
        hint: 'use Swarm constraints such as node.labels.zone==a, node.hostname!=vm1 or node.role==worker',
      });
    }
  }
  if (!Array.isArray(constraints) || list.length > 10) {
    throw new SlipwayError('INVALID_INPUT', 'placement is a list of at most 10 constraints', {
      hint: 'slipway ps:placement web=node.labels.zone==a (none: slipway ps:placement web=)',
    });
  }
  return list.map((c: string) => c.replace(/\s+/g, ''));
}

export function createRuntime(deps: RuntimeDeps): Runtime {
  const opts = {
    ...DEFAULT_OPTIONS,
    ...deps.options,
    backoff: { ...DEFAULT_OPTIONS.backoff, ...deps.options?.backoff },
  };
  const locks = new Map<string, Promise<unknown>>();
  const images = new Map<string, Promise<string>>();
  let publishing: Promise<void> = Promise.resolve();

  const webBackends = (appName: string): WebBackend[] =>
    (ctx.table.get(appName) ?? [])
      .filter((d) => d.type === 'web' && d.state === 'up' && !d.retired && d.address)
      .sort((a, b) => a.index - b.index)
      .map((d) => ({ dyno: d.name, url: `http://${d.address}`, release: d.release }));

  const ctx: Ctx = {
    deps,
    opts,
    driver: deps.driver,
    state: deps.state,
    table: new Map(),
    busy: new Set(),
    drains: new Set(),
    oneOffs: new Map(),
    stopped: false,
    withAppLock<T>(app: string, fn: () => Promise<T>): Promise<T> {
      const prev = locks.get(app) ?? Promise.resolve();
      const next = prev.then(fn, fn);
      const settled = next.catch(() => {});
      locks.set(app, settled);
      void settled.then(() => {
        if (locks.get(app) === settled) locks.delete(app);
      });
      return next;
    },
    publish() {
      publishing = publishing.then(() =>
        deps
          .publishRoutes(new Map([...ctx.table.keys()].map((a) => [a, webBackends(a)])))
          .catch((err: Error) => log.error(`publishing routes failed: ${err.message}`)),
      );
      return publishing;
    },
    platformLog(app, dyno, line) {
      deps.logs.write(app, { source: 'platform', dyno, line });
    },
    imageFor(release) {
      if (!release.imageRef) {
        return Promise.reject(
          new SlipwayError('CONFLICT', `release v${release.version} has no image`, {
            hint: 'deploy a build first: git push slipway main',
          }),
        );
      }
      const ref = release.imageRef;
      let p = images.get(ref);
      if (!p) {
        p = deps.ensureImage(ref);
        images.set(ref, p);
        p.catch(() => images.delete(ref));
      }
      return p;
    },
    forgetImages: () => images.clear(),
  };

  let stopWatch: (() => void) | undefined;
  let interval: NodeJS.Timeout | undefined;
  let reconciling: Promise<void> | undefined;
  let gcTimer: NodeJS.Timeout | undefined;
  let collecting: Promise<unknown> | undefined;
  // Disk fills with old images unless collection is automatic: run it a while after deploys.
  const scheduleGc = () => {
    if (!opts.gcAfterDeployMs || ctx.stopped) return;
    clearTimeout(gcTimer);
    gcTimer = setTimeout(() => {
      collecting = collectAppGarbage(ctx)
        .catch((err: Error) => log.error(`garbage collection failed: ${err.message}`))
        .finally(() => (collecting = undefined));
    }, opts.gcAfterDeployMs);
    gcTimer.unref?.();
  };

  const requireRelease = (appName: string) => {
    const app = deps.state.apps.require(appName);
    return { app, release: currentRelease(ctx, app) };
  };

  function assertTypeIn(release: ReleaseRow | undefined, type: string, appName: string): void {
    assertProcessType(type);
    if (release && !Object.hasOwn(release.processTypes, type)) {
      throw new SlipwayError('NOT_FOUND', `app "${appName}" has no process type "${type}" in v${release.version}`, {
        hint: `its process types are: ${Object.keys(release.processTypes).join(', ') || 'none'} (declared in the Procfile)`,
      });
    }
  }

  async function reconcileAll(): Promise<void> {
    const names = new Set<string>([...deps.state.apps.list().map((a) => a.name), ...ctx.table.keys()]);
    for (const c of await ctx.driver.list()) if (c.labels['io.slipway.app']) names.add(c.labels['io.slipway.app']);
    for (const name of names) {
      await ctx
        .withAppLock(name, () => reconcileApp(ctx, name))
        .catch((err: Error) => log.error(`reconcile ${name}: ${err.message}`));
    }
  }

  return {
    async stage({ appName, release, output }) {
      const app = deps.state.apps.require(appName);
      const say: DeployOutput = output ?? (() => {});
      // Hold the app's lock from the release phase until the caller swaps or abandons.
      const unlock = await new Promise<() => void>((locked) => {
        void ctx.withAppLock(app.name, () => new Promise<void>((done) => locked(done)));
      });
      let staged: StagedRollout;
      const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
        const t0 = performance.now();
        try {
          return await fn();
        } finally {
          say.timing?.(step, Math.round(performance.now() - t0));
        }
      };
      try {
        await timed('image', () => ctx.imageFor(release));
        await timed('release-phase', () => runReleasePhase(ctx, app.name, release, say));
        staged = await timed('dynos', () => stageRollout(ctx, app, release, { seed: true, output }));
      } catch (err) {
        unlock();
        throw err;
      }
      return {
        async swap() {
          try {
            // A new release starts crash counting afresh (new dynos carry restarts = 0).
            await timed('routes', () => staged.swap());
          } finally {
            unlock();
          }
          scheduleGc();
        },
        async abandon() {
          try {
            await staged.abandon();
          } finally {
            unlock();
          }
        },
      };
    },

    async scale(appName, changes) {
      const { app, release } = requireRelease(appName);
      for (const [type, q] of Object.entries(changes)) {
        assertTypeIn(release, type, app.name);
        if (!Number.isInteger(q) || q < 0 || q > 100) {
          throw new SlipwayError('INVALID_INPUT', `${type}=${String(q)} is not a quantity`, {
            hint: 'use a whole number from 0 to 100, like web=2',
          });
        }
      }
      await ctx.withAppLock(app.name, async () => {
        deps.state.formation.setQuantities(app.id, changes, DEFAULT_SIZE);
        await reconcileApp(ctx, app.name);
        await ctx.publish();
      });
      return deps.state.formation.list(app.id);
    },

    async setSize(appName, type, size) {
      const { app, release } = requireRelease(appName);
      assertTypeIn(release, type, app.name);
      const s = assertSize(size);
      await ctx.withAppLock(app.name, async () => {
        deps.state.formation.setSize(app.id, type, s);
        const current = currentRelease(ctx, deps.state.apps.require(app.name));
        if (current) await rollout(ctx, app, current, { only: { type } });
      });
      return deps.state.formation.list(app.id);
    },

    async setPlacement(appName, type, constraints) {
      const { app, release } = requireRelease(appName);
      if (!release)
        throw new SlipwayError('CONFLICT', `app "${app.name}" has no release yet`, {
          hint: 'deploy it first (git push slipway main), then set where its process types run',
        });
      assertTypeIn(release, type, app.name);
      const valid = assertPlacement(constraints);
      await ctx.withAppLock(app.name, async () => {
        const previous = deps.state.formation.placement(app.id, type);
        deps.state.formation.setPlacement(app.id, type, valid);
        const current = currentRelease(ctx, deps.state.apps.require(app.name));
        try {
          if (current) await rollout(ctx, app, current, { only: { type } });
        } catch (err) {
          // Nothing could run there: the dynos where they were keep serving, and so does the setting.
          deps.state.formation.setPlacement(app.id, type, previous);
          throw err;
        }
      });
      return deps.state.formation.placement(app.id, type);
    },

    async restart(appName, target) {
      const { app, release } = requireRelease(appName);
      let only: { type: string; index?: number } | undefined;
      if (target) {
        const m = /^([A-Za-z0-9_-]+)(?:\.(\d+))?$/.exec(target);
        if (!m)
          throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(target)} is neither a process type nor a dyno`, {
            hint: 'use web or web.1',
          });
        assertTypeIn(release, m[1], app.name);
        only = { type: m[1], index: m[2] ? Number(m[2]) : undefined };
      }
      if (!release) return;
      await ctx.withAppLock(app.name, () => rollout(ctx, app, release, { only }));
    },

    async listDynos(appName) {
      assertAppName(appName);
      const runs: DynoInfo[] = [...(ctx.oneOffs.get(appName) ?? new Map()).entries()].map(([containerId, o]) => ({
        type: 'run',
        index: Number(o.dyno.split('.')[1]),
        name: o.dyno,
        state: 'up',
        since: new Date(o.since).toISOString(),
        release: o.release,
        containerId,
        address: null,
        size: o.size,
        restarts: 0,
        nextRestartAt: null,
        exitCode: null,
        command: o.command,
      }));
      return [...dynosOf(ctx, appName).map(toInfo), ...runs].sort(
        (a, b) => a.type.localeCompare(b.type) || a.index - b.index,
      );
    },

    runOneOff: (o) => runOneOff(ctx, { ...o, appName: assertAppName(o.appName) }),
    runDetached: (o) => runDetached(ctx, { ...o, appName: assertAppName(o.appName) }),

    listWebBackends: webBackends,

    destroyApp: (appName) => ctx.withAppLock(assertAppName(appName), () => destroyApp(ctx, appName)),
    diskUsage: (appName) => diskUsage(ctx, appName),

    async reconcile(appName) {
      if (appName) await ctx.withAppLock(assertAppName(appName), () => reconcileApp(ctx, appName));
      else await reconcileAll();
    },

    async start() {
      stopWatch = ctx.driver.watchExits((id, code) => {
        for (const list of ctx.table.values()) {
          const d = list.find((x) => x.containerId === id);
          if (d) crash(ctx, d, code);
        }
      });
      await adopt(ctx);
      await ctx.publish();
      // Filling gaps (new containers, health checks) can take a while per app: not on the start path.
      reconciling = reconcileAll().finally(() => (reconciling = undefined));
      interval = setInterval(() => {
        if (reconciling) return;
        reconciling = reconcileAll().finally(() => (reconciling = undefined));
      }, opts.reconcileIntervalMs);
    },

    async stop() {
      ctx.stopped = true;
      clearInterval(interval);
      clearTimeout(gcTimer);
      await collecting;
      stopWatch?.();
      await reconciling;
      for (const list of ctx.table.values()) {
        for (const d of list) {
          clearTimeout(d.timer);
          d.stopLogs?.();
        }
      }
      await Promise.all([...ctx.drains]);
      await Promise.all([...locks.values()]);
    },

    collectGarbage: () => collectAppGarbage(ctx),
  };
}
