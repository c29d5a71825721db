import type { Db } from '../db';

export const MINUTE = 60;
export const HOUR = 3600;

export interface RouterRow {
  appId: number;
  res: number;
  /** Bucket start, unix seconds. */
  ts: number;
  requests: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  herr: number;
  /** JSON { H12: n, ... } */
  hcodes: string;
  bytes: number;
  /** server/metrics/sketch.ts encode() */
  sketch: string;
}

export interface DynoRow {
  appId: number;
  res: number;
  ts: number;
  ptype: string;
  samples: number;
  cpuSum: number;
  cpuMax: number;
  memSum: number;
  memMax: number;
}

/** Metrics rows (server/metrics/): per-minute and per-hour buckets of router and dyno data. */
export function createMetricsRepo(db: Db) {
  const putRouter = db.prepare(
    `INSERT OR REPLACE INTO metrics_router (app_id, res, ts, requests, s2xx, s3xx, s4xx, s5xx, herr, hcodes, bytes, sketch)
     VALUES (@appId, @res, @ts, @requests, @s2xx, @s3xx, @s4xx, @s5xx, @herr, @hcodes, @bytes, @sketch)`,
  );
  const putDyno = db.prepare(
    `INSERT OR REPLACE INTO metrics_dynos (app_id, res, ts, ptype, samples, cpu_sum, cpu_max, mem_sum, mem_max)
     VALUES (@appId, @res, @ts, @ptype, @samples, @cpuSum, @cpuMax, @memSum, @memMax)`,
  );
  const routerCols = 'app_id AS appId, res, ts, requests, s2xx, s3xx, s4xx, s5xx, herr, hcodes, bytes, sketch';
  const dynoCols =
    'app_id AS appId, res, ts, ptype, samples, cpu_sum AS cpuSum, cpu_max AS cpuMax, mem_sum AS memSum, mem_max AS memMax';
  return {
    putRouter: db.transaction((rows: RouterRow[]) => {
      for (const r of rows) putRouter.run(r);
    }),
    putDynos: db.transaction((rows: DynoRow[]) => {
      for (const r of rows) putDyno.run(r);
    }),
    getRouter(appId: number, res: number, ts: number): RouterRow | undefined {
      return db
        .prepare(`SELECT ${routerCols} FROM metrics_router WHERE app_id = ? AND res = ? AND ts = ?`)
        .get(appId, res, ts) as RouterRow | undefined;
    },
    getDyno(appId: number, res: number, ts: number, ptype: string): DynoRow | undefined {
      return db
        .prepare(`SELECT ${dynoCols} FROM metrics_dynos WHERE app_id = ? AND res = ? AND ts = ? AND ptype = ?`)
        .get(appId, res, ts, ptype) as DynoRow | undefined;
    },
    routerRange(appId: number, res: number, from: number, to: number): RouterRow[] {
      return db
        .prepare(
          `SELECT ${routerCols} FROM metrics_router WHERE app_id = ? AND res = ? AND ts >= ? AND ts < ? ORDER BY ts`,
        )
        .all(appId, res, from, to) as RouterRow[];
    },
    dynoRange(appId: number, res: number, from: number, to: number): DynoRow[] {
      return db
        .prepare(
          `SELECT ${dynoCols} FROM metrics_dynos WHERE app_id = ? AND res = ? AND ts >= ? AND ts < ? ORDER BY ts`,
        )
        .all(appId, res, from, to) as DynoRow[];
    },
    /** Every app's minute rows of one hour (for the hourly roll-up). */
    minutesOfHour(hour: number): { router: RouterRow[]; dynos: DynoRow[] } {
      return {
        router: db
          .prepare(`SELECT ${routerCols} FROM metrics_router WHERE res = 60 AND ts >= ? AND ts < ?`)
          .all(hour, hour + HOUR) as RouterRow[],
        dynos: db
          .prepare(`SELECT ${dynoCols} FROM metrics_dynos WHERE res = 60 AND ts >= ? AND ts < ?`)
          .all(hour, hour + HOUR) as DynoRow[],
      };
    },
    latestHour(): number | null {
      const a = db.prepare('SELECT max(ts) AS t FROM metrics_router WHERE res = 3600').get() as { t: number | null };
      const b = db.prepare('SELECT max(ts) AS t FROM metrics_dynos WHERE res = 3600').get() as { t: number | null };
      return a.t === null && b.t === null ? null : Math.max(a.t ?? 0, b.t ?? 0);
    },
    earliestMinute(): number | null {
      const a = db.prepare('SELECT min(ts) AS t FROM metrics_router WHERE res = 60').get() as { t: number | null };
      const b = db.prepare('SELECT min(ts) AS t FROM metrics_dynos WHERE res = 60').get() as { t: number | null };
      return a.t === null && b.t === null ? null : Math.min(a.t ?? Infinity, b.t ?? Infinity);
    },
    /** Retention: drops rows older than the given bucket starts. Returns rows deleted. */
    prune(minuteBefore: number, hourBefore: number): number {
      let n = 0;
      for (const t of ['metrics_router', 'metrics_dynos']) {
        n += db.prepare(`DELETE FROM ${t} WHERE res = 60 AND ts < ?`).run(minuteBefore).changes;
        n += db.prepare(`DELETE FROM ${t} WHERE res = 3600 AND ts < ?`).run(hourBefore).changes;
      }
      return n;
    },
    rowCount(): number {
      return (
        db
          .prepare('SELECT (SELECT count(*) FROM metrics_router) + (SELECT count(*) FROM metrics_dynos) AS n')
          .get() as { n: number }
      ).n;
    },
  };
}
export type MetricsRepo = ReturnType<typeof createMetricsRepo>;
