import { isValidAppName } from '../../common/names';
import type { AppRow } from '../state/repos/apps';
import type { ReleaseRow } from '../state/repos/releases';
import { currentRelease, dynosOf, type Ctx, type Dyno } from './context';
import { DEFAULT_SIZE } from './sizes';
import {
  type Reporter,
  bootInPlace,
  checkWeb,
  crash,
  createDyno,
  deployOutput,
  followLogs,
  bootError,
  retire,
  startDyno,
} from './supervisor';

/**
 * Converging containers to the desired state. `stageRollout`/`rollout` replace dynos with ones of a release
 * without downtime (deploys, config changes, rollbacks, restarts, size changes); `reconcileApp`
 * fixes counts and dead containers (scale, periodic pass); `adopt` takes over the containers a
 * previous server process left running. Callers hold the app's lock.
 */

export interface RolloutOptions {
  /** Restrict to one process type, or one dyno of it (ps:restart web.2). */
  only?: { type: string; index?: number };
  /** Seed formation rows from app.json / defaults (deploys). */
  seed?: boolean;
  output?: (line: string) => void;
}

/**
 * A rollout whose new web dynos are running and passed their checks, with nothing swapped yet:
 * the caller records the release as current, then `swap()`s (routes, other types, retiring the
 * old dynos), or `abandon()`s (the new dynos go, the old keep serving).
 */
export interface StagedRollout {
  swap(): Promise<void>;
  abandon(): Promise<void>;
}

type Quantities = Map<string, { quantity: number; size: string }>;

export function desiredFormation(ctx: Ctx, app: AppRow, release: ReleaseRow, seed = false): Quantities {
  if (seed) {
    for (const type of Object.keys(release.processTypes)) {
      const f = release.appJson.formation?.[type];
      ctx.state.formation.seed(app.id, type, f?.quantity ?? (type === 'web' ? 1 : 0), f?.size ?? DEFAULT_SIZE);
    }
  }
  const out: Quantities = new Map();
  for (const row of ctx.state.formation.list(app.id)) {
    if (Object.hasOwn(release.processTypes, row.type)) out.set(row.type, { quantity: row.quantity, size: row.size });
  }
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** stageRollout, then swap at once: restarts, size changes. */
export async function rollout(ctx: Ctx, app: AppRow, release: ReleaseRow, o: RolloutOptions = {}): Promise<void> {
  await (await stageRollout(ctx, app, release, o)).swap();
}

/** Starts and checks the new web dynos (deploys, config changes, rollbacks, restarts). */
export async function stageRollout(
  ctx: Ctx,
  app: AppRow,
  release: ReleaseRow,
  o: RolloutOptions = {},
): Promise<StagedRollout> {
  // Progress goes to the app's log too, so the CLI shows it for config:set, ps:restart, rollback.
  const say = deployOutput(ctx, app.name, o.output);
  const want = desiredFormation(ctx, app, release, o.seed);
  const q = (type: string) => want.get(type)?.quantity ?? 0;
  const indexes = (type: string) => (o.only?.index ? [o.only.index].filter((i) => i <= q(type)) : range(q(type)));
  const types = Object.keys(release.processTypes).filter((t) => !o.only || o.only.type === t);
  const live = dynosOf(ctx, app.name);
  const matching = (type: string, idx: number[]) =>
    live.filter((d) => d.type === type && (o.only?.index ? idx.includes(d.index) : true));

  // Web first: new dynos must pass their checks before anything is swapped.
  const webIdx = types.includes('web') ? indexes('web') : [];
  let fresh: Dyno[] = [];
  if (webIdx.length > 0) {
    say(`Starting ${webIdx.length} web dyno${webIdx.length > 1 ? 's' : ''} of v${release.version} and checking health`);
    fresh = await startFresh(ctx, app, release, 'web', webIdx, want.get('web')!.size, say);
    // Until swap or abandon, the orphan sweep must leave them alone.
    for (const d of fresh) ctx.busy.add(d.containerId);
  }
  let settled = false;
  const settle = () => {
    if (settled) throw new Error('a staged rollout is swapped or abandoned once');
    settled = true;
    for (const d of fresh) ctx.busy.delete(d.containerId);
  };

  return {
    async abandon() {
      settle();
      for (const d of fresh) {
        d.stopLogs?.();
        await ctx.driver.remove(d.containerId).catch(() => {});
      }
    },
    async swap() {
      settle();
      if (fresh.length > 0) {
        const old = matching('web', webIdx);
        swapIn(ctx, live, fresh, old);
        await ctx.publish();
        for (const d of old) void retire(ctx, d, { settle: true });
      }

      // Other types are replaced after web: start the new ones, then stop the old.
      for (const type of types.filter((t) => t !== 'web')) {
        const idx = indexes(type);
        if (idx.length === 0) continue;
        const started = await startFresh(ctx, app, release, type, idx, want.get(type)!.size);
        const old = matching(type, idx);
        swapIn(ctx, live, started, old);
        for (const d of old) void retire(ctx, d, { settle: false });
      }

      if (!o.only) {
        for (const d of [...live]) {
          if (d.release !== release.version || d.index > q(d.type)) void retire(ctx, d, { settle: d.type === 'web' });
        }
      }
      await ctx.publish();
      say(
        `v${release.version} is running (${Array.from(want, ([t, f]) => `${t}=${f.quantity}`).join(' ') || 'no processes'})`,
      );
    },
  };
}

/** With `check` (web): the new dynos must pass their health checks, reporting progress to it. */
async function startFresh(
  ctx: Ctx,
  app: AppRow,
  release: ReleaseRow,
  type: string,
  idx: number[],
  size: string,
  check?: Reporter,
): Promise<Dyno[]> {
  const fresh: Dyno[] = [];
  try {
    for (const i of idx) {
      const d = await createDyno(ctx, app.name, release, type, i, size);
      ctx.busy.add(d.containerId);
      fresh.push(d);
    }
    await Promise.all(fresh.map((d) => startDyno(ctx, d)));
    if (check) {
      const results = await Promise.all(fresh.map((d) => checkWeb(ctx, d, release, check)));
      const bad = results.findIndex((r) => !r.ok);
      if (bad >= 0) {
        const r = results[bad] as { check: string; reason: string; exitCode?: number };
        const lines = await ctx.driver.tailLogs(fresh[bad].containerId, 20).catch(() => []);
        throw await bootError(ctx, fresh[bad], release, r, lines);
      }
    }
    return fresh;
  } catch (err) {
    for (const d of fresh) {
      d.stopLogs?.();
      await ctx.driver.remove(d.containerId).catch(() => {});
    }
    throw err;
  } finally {
    for (const d of fresh) ctx.busy.delete(d.containerId);
  }
}

function swapIn(ctx: Ctx, live: Dyno[], fresh: Dyno[], old: Dyno[]): void {
  for (const d of old) {
    const i = live.indexOf(d);
    if (i >= 0) live.splice(i, 1);
  }
  for (const d of fresh) {
    d.state = 'up';
    d.since = Date.now();
    ctx.platformLog(d.app, d.name, `State changed from starting to up (v${d.release})`);
    live.push(d);
  }
}

/** Converges one app's dynos to formation × current release. */
export async function reconcileApp(ctx: Ctx, appName: string): Promise<void> {
  const app = isValidAppName(appName) ? ctx.state.apps.get(appName) : undefined;
  const list = dynosOf(ctx, appName);
  const release = app && currentRelease(ctx, app);
  const want =
    app && release ? desiredFormation(ctx, app, release) : new Map<string, { quantity: number; size: string }>();
  const q = (type: string) => want.get(type)?.quantity ?? 0;

  for (const d of [...list]) {
    if (!release || d.release !== release.version || d.index > q(d.type)) {
      void retire(ctx, d, { settle: d.type === 'web', publish: d.type === 'web' });
    }
  }
  for (const d of [...list]) {
    if (d.state !== 'up') continue;
    const info = await ctx.driver.inspect(d.containerId);
    if (!info) void retire(ctx, d, { settle: false, publish: d.type === 'web' });
    else if (!info.running) crash(ctx, d, info.exitCode);
  }
  if (release) {
    const boots: Array<Promise<void>> = [];
    for (const [type, f] of want) {
      for (const i of range(f.quantity)) {
        if (list.some((d) => d.type === type && d.index === i)) continue;
        const d = await createDyno(ctx, appName, release, type, i, f.size);
        list.push(d);
        boots.push(bootInPlace(ctx, d, release));
      }
    }
    await Promise.all(boots);
  }
  await sweepOrphans(ctx, appName);
}

/**
 * Removes dyno containers of this installation that no dyno, drain or one-off accounts for.
 * Only containers the runtime itself makes (they carry io.slipway.process) are candidates: build
 * containers of the same app carry the app label too, and sweeping them killed builds mid-way.
 */
async function sweepOrphans(ctx: Ctx, appName: string): Promise<void> {
  const known = new Set(dynosOf(ctx, appName).map((d) => d.containerId));
  for (const c of await ctx.driver.list(appName)) {
    if (!c.labels['io.slipway.process']) continue;
    if (known.has(c.id) || ctx.busy.has(c.id) || c.labels['io.slipway.oneoff'] === 'true') continue;
    await ctx.driver.remove(c.id);
  }
}

/**
 * After a server restart: containers of the current release within the formation become dynos
 * again without a restart (same container IDs; they never left the routes). Everything else the
 * labels prove is ours is drained. Exited one-offs are removed.
 */
export async function adopt(ctx: Ctx): Promise<void> {
  for (const listed of await ctx.driver.list()) {
    const c = (await ctx.driver.inspect(listed.id)) ?? listed;
    const l = c.labels;
    if (l['io.slipway.oneoff'] === 'true') {
      if (!c.running) await ctx.driver.remove(c.id);
      continue;
    }
    const appName = l['io.slipway.app'];
    const type = l['io.slipway.process'];
    const index = Number(l['io.slipway.dyno']);
    const version = Number(l['io.slipway.release']);
    if (!isValidAppName(appName) || !type) continue;
    const app = ctx.state.apps.get(appName);
    const release = app && currentRelease(ctx, app);
    const want = app && release ? desiredFormation(ctx, app, release) : undefined;
    const list = dynosOf(ctx, appName);
    const now = Date.now();
    const d: Dyno = {
      app: appName,
      type,
      index,
      name: `${type}.${index}`,
      release: version,
      containerId: c.id,
      address: c.address,
      size: want?.get(type)?.size ?? DEFAULT_SIZE,
      state: c.running ? 'up' : 'starting',
      since: c.startedAt ?? now,
      startedAt: c.startedAt ?? now,
      restarts: 0,
      nextRestartAt: null,
      exitCode: null,
      retired: false,
    };
    const fits = release && version === release.version && index >= 1 && index <= (want?.get(type)?.quantity ?? 0);
    if (!fits || list.some((x) => x.name === d.name)) {
      void retire(ctx, d, { settle: false });
      continue;
    }
    list.push(d);
    if (c.running) followLogs(ctx, d, now);
    else crash(ctx, d, c.exitCode, 'found stopped after a server restart');
  }
}
