import type Docker from 'dockerode';
import type { MetricsRepo } from '../state/repos/metrics';
import { HOUR, MINUTE } from '../state/repos/metrics';
import { add } from './sketch';
import { parseRouterLine } from './router-line';
import { createDynoSampler } from './dyno-sampler';
import {
  dynoFromRow,
  dynoToRow,
  mergeDyno,
  mergeRouter,
  newDynoBucket,
  newRouterBucket,
  routerFromRow,
  routerToRow,
  type DynoBucket,
  type RouterBucket,
} from './buckets';
import { queryMetrics, type MetricsQuery, type MetricsResult } from './query';

export interface MetricsSettings {
  enabled: boolean;
  /** How often dynos are sampled (docker stats). */
  dynoSampleMs: number;
  /** How often open buckets are written to SQLite. */
  flushMs: number;
}

export interface Metrics {
  /** Hooked to the log hub's router tail (server/logs/hub.ts onRouterLine). */
  recordRouterLine(app: string, time: Date, line: string): void;
  recordDynos(samples: Array<{ app: string; ptype: string; cpu: number; memory: number }>, time?: Date): void;
  query(appId: number, q: MetricsQuery): MetricsResult;
  flush(): void;
  /** Rolls finished hours up and applies retention (minutes 24 h, hours 30 days). */
  maintain(now?: number): void;
  start(): void;
  stop(): void;
}

const MINUTE_RETENTION_S = 24 * HOUR;
const HOUR_RETENTION_S = 30 * 24 * HOUR;
/** Minute buckets stay in memory this long after they end, for late lines; then they are final. */
const OPEN_FOR_S = 2 * MINUTE;

/**
 * App metrics: router traffic per app per minute (from the access-log lines the log hub already
 * tails: no second reader), and dyno CPU/memory from Docker every dynoSampleMs. Open minutes live
 * in memory and are written (upsert) every flushMs and before every query; finished hours are
 * rolled up into hour rows. All writes go through one prepared-statement transaction per flush.
 */
export function createMetrics(deps: {
  repo: MetricsRepo;
  appId: (name: string) => number | undefined;
  docker?: Docker;
  settings: MetricsSettings;
}): Metrics {
  const router = new Map<string, { appId: number; ts: number; b: RouterBucket; dirty: boolean }>();
  const dynos = new Map<string, { appId: number; ts: number; ptype: string; b: DynoBucket; dirty: boolean }>();
  // App ids by name, refreshed every flush (a destroyed and re-created app gets its new id).
  let ids = new Map<string, number | null>();
  let lastRolledHour: number | null | undefined;
  const timers: NodeJS.Timeout[] = [];
  const sampler = deps.docker ? createDynoSampler({ docker: deps.docker }) : null;
  let sampling = false;

  function idOf(name: string): number | undefined {
    let id = ids.get(name);
    if (id === undefined) {
      id = deps.appId(name) ?? null;
      ids.set(name, id);
    }
    return id ?? undefined;
  }

  function routerBucket(appId: number, ts: number): { b: RouterBucket; dirty: boolean } {
    const key = `${appId}:${ts}`;
    let e = router.get(key);
    if (!e) {
      // A minute seen again after it was written (a restart catching up on the log): continue it.
      const row = deps.repo.getRouter(appId, MINUTE, ts);
      e = { appId, ts, b: row ? routerFromRow(row) : newRouterBucket(), dirty: false };
      router.set(key, e);
    }
    return e;
  }

  function recordRouterLine(app: string, time: Date, line: string): void {
    if (!deps.settings.enabled) return;
    const s = parseRouterLine(line);
    if (!s) return;
    const appId = idOf(app);
    if (appId === undefined) return;
    const e = routerBucket(appId, Math.floor(time.getTime() / 60_000) * MINUTE);
    const b = e.b;
    b.requests++;
    const cls = Math.floor(s.status / 100);
    if (cls === 2) b.s2xx++;
    else if (cls === 3) b.s3xx++;
    else if (cls === 4) b.s4xx++;
    else if (cls === 5) b.s5xx++;
    if (s.code) {
      b.herr++;
      b.hcodes[s.code] = (b.hcodes[s.code] ?? 0) + 1;
    }
    b.bytes += s.bytes;
    add(b.sketch, s.ms);
    e.dirty = true;
  }

  function recordDynos(
    samples: Array<{ app: string; ptype: string; cpu: number; memory: number }>,
    time = new Date(),
  ): void {
    const ts = Math.floor(time.getTime() / 60_000) * MINUTE;
    for (const s of samples) {
      const appId = idOf(s.app);
      if (appId === undefined || !Number.isFinite(s.cpu)) continue;
      const key = `${appId}:${ts}:${s.ptype}`;
      let e = dynos.get(key);
      if (!e) {
        const row = deps.repo.getDyno(appId, MINUTE, ts, s.ptype);
        e = { appId, ts, ptype: s.ptype, b: row ? dynoFromRow(row) : newDynoBucket(), dirty: false };
        dynos.set(key, e);
      }
      mergeDyno(e.b, { samples: 1, cpuSum: s.cpu, cpuMax: s.cpu, memSum: s.memory, memMax: s.memory });
      e.dirty = true;
    }
  }

  function flush(): void {
    const now = Date.now() / 1000;
    const rRows = [];
    for (const [k, e] of router) {
      if (e.dirty) rRows.push(routerToRow(e.appId, MINUTE, e.ts, e.b));
      e.dirty = false;
      if (e.ts + MINUTE + OPEN_FOR_S < now) router.delete(k);
    }
    const dRows = [];
    for (const [k, e] of dynos) {
      if (e.dirty) dRows.push(dynoToRow(e.appId, MINUTE, e.ts, e.ptype, e.b));
      e.dirty = false;
      if (e.ts + MINUTE + OPEN_FOR_S < now) dynos.delete(k);
    }
    try {
      if (rRows.length) deps.repo.putRouter(rRows);
      if (dRows.length) deps.repo.putDynos(dRows);
    } catch (err) {
      // An app destroyed since its lines arrived (foreign key): drop what cannot be stored.
      console.error(`slipway-server: writing metrics failed: ${(err as Error).message}`);
    }
    ids = new Map();
  }

  function rollUp(hour: number): void {
    const { router: rr, dynos: dr } = deps.repo.minutesOfHour(hour);
    const byApp = new Map<number, RouterBucket>();
    for (const r of rr) byApp.set(r.appId, mergeRouter(byApp.get(r.appId) ?? newRouterBucket(), routerFromRow(r)));
    const byType = new Map<string, { appId: number; ptype: string; b: DynoBucket }>();
    for (const r of dr) {
      const k = `${r.appId}:${r.ptype}`;
      const e = byType.get(k) ?? { appId: r.appId, ptype: r.ptype, b: newDynoBucket() };
      mergeDyno(e.b, dynoFromRow(r));
      byType.set(k, e);
    }
    deps.repo.putRouter([...byApp].map(([appId, b]) => routerToRow(appId, HOUR, hour, b)));
    deps.repo.putDynos([...byType.values()].map((e) => dynoToRow(e.appId, HOUR, hour, e.ptype, e.b)));
  }

  function maintain(nowMs = Date.now()): void {
    flush();
    const now = Math.floor(nowMs / 1000);
    // An hour is final once its last minute has left memory.
    const lastDone = Math.floor((now - OPEN_FOR_S - MINUTE) / HOUR) * HOUR - HOUR;
    if (lastRolledHour === undefined) lastRolledHour = deps.repo.latestHour();
    let h = lastRolledHour === null ? deps.repo.earliestMinute() : lastRolledHour + HOUR;
    if (h !== null) {
      h = Math.floor(h / HOUR) * HOUR;
      for (; h <= lastDone; h += HOUR) {
        rollUp(h);
        lastRolledHour = h;
      }
    }
    deps.repo.prune(now - MINUTE_RETENTION_S, now - HOUR_RETENTION_S);
  }

  async function sampleDynos(): Promise<void> {
    if (!sampler || sampling) return;
    sampling = true;
    try {
      recordDynos(await sampler.sample());
    } catch (err) {
      console.error(`slipway-server: sampling dyno metrics failed: ${(err as Error).message}`);
    } finally {
      sampling = false;
    }
  }

  return {
    recordRouterLine,
    recordDynos,
    flush,
    maintain,
    query(appId, q) {
      flush();
      if (lastRolledHour === undefined) lastRolledHour = deps.repo.latestHour();
      return queryMetrics(deps.repo, appId, q, lastRolledHour);
    },
    start() {
      if (!deps.settings.enabled) return;
      const every = (ms: number, fn: () => void) => {
        const t = setInterval(() => {
          try {
            fn();
          } catch (err) {
            console.error(`slipway-server: metrics: ${(err as Error).message}`);
          }
        }, ms);
        t.unref();
        timers.push(t);
      };
      every(deps.settings.flushMs, flush);
      every(60_000, () => maintain());
      every(deps.settings.dynoSampleMs, () => void sampleDynos());
      void sampleDynos();
      setTimeout(() => maintain(), 5_000).unref();
    },
    stop() {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
      flush();
    },
  };
}
