import { HOUR, MINUTE, type MetricsRepo } from '../state/repos/metrics';
import type { MetricsResult } from '../../common/metrics-answer';
import { quantile } from './sketch';
import {
  dynoFromRow,
  mergeDyno,
  mergeRouter,
  newDynoBucket,
  newRouterBucket,
  routerFromRow,
  type DynoBucket,
  type RouterBucket,
} from './buckets';

export type { MetricsResult };

export interface MetricsQuery {
  /** Unix seconds. */
  since: number;
  until: number;
  /** Seconds per point: a multiple of 60 (of 3600 when the range reaches past the minute retention). */
  step: number;
}

/**
 * Answers a metrics query from the stored buckets: hour rows where minutes have been rolled up
 * and the step allows it, minute rows otherwise, merged into `step`-wide points (counts add,
 * sketches merge, so percentiles of a point are exact to the sketch's error, not averages).
 */
export function queryMetrics(
  repo: MetricsRepo,
  appId: number,
  q: MetricsQuery,
  lastRolledHour: number | null,
): MetricsResult {
  const step = q.step;
  const start = Math.floor(q.since / step) * step;
  const n = Math.max(1, Math.ceil((q.until - start) / step));
  const until = start + n * step;
  const routerPts: RouterBucket[] = Array.from({ length: n }, newRouterBucket);
  const dynoPts = new Map<string, DynoBucket[]>();

  // Hour rows for what has been rolled up (when the step is whole hours), minute rows after that.
  const cutoff =
    step % HOUR === 0 && lastRolledHour !== null ? Math.min(until, Math.max(start, lastRolledHour + HOUR)) : start;
  const routerRows = [
    ...(cutoff > start ? repo.routerRange(appId, HOUR, start, cutoff) : []),
    ...repo.routerRange(appId, MINUTE, cutoff, until),
  ];
  const dynoRows = [
    ...(cutoff > start ? repo.dynoRange(appId, HOUR, start, cutoff) : []),
    ...repo.dynoRange(appId, MINUTE, cutoff, until),
  ];
  for (const r of routerRows) {
    const i = Math.floor((r.ts - start) / step);
    if (i >= 0 && i < n) mergeRouter(routerPts[i], routerFromRow(r));
  }
  for (const r of dynoRows) {
    const i = Math.floor((r.ts - start) / step);
    if (i < 0 || i >= n) continue;
    let pts = dynoPts.get(r.ptype);
    if (!pts) dynoPts.set(r.ptype, (pts = Array.from({ length: n }, newDynoBucket)));
    mergeDyno(pts[i], dynoFromRow(r));
  }

  const total = routerPts.reduce((a, b) => mergeRouter(a, b), newRouterBucket());
  const col = <K extends keyof RouterBucket>(k: K) => routerPts.map((b) => b[k] as number);
  const dynos: MetricsResult['dynos'] = {};
  const round = (x: number) => Math.round(x * 100) / 100;
  for (const [ptype, pts] of dynoPts) {
    dynos[ptype] = {
      cpu: pts.map((b) => (b.samples ? round(b.cpuSum / b.samples) : null)),
      cpuMax: pts.map((b) => (b.samples ? round(b.cpuMax) : null)),
      memory: pts.map((b) => (b.samples ? Math.round(b.memSum / b.samples) : null)),
      memoryMax: pts.map((b) => (b.samples ? b.memMax : null)),
    };
  }
  return {
    since: start,
    until,
    step,
    time: routerPts.map((_, i) => start + i * step),
    requests: col('requests'),
    s2xx: col('s2xx'),
    s3xx: col('s3xx'),
    s4xx: col('s4xx'),
    s5xx: col('s5xx'),
    herr: col('herr'),
    bytes: col('bytes'),
    p50: routerPts.map((b) => quantile(b.sketch, 0.5)),
    p95: routerPts.map((b) => quantile(b.sketch, 0.95)),
    p99: routerPts.map((b) => quantile(b.sketch, 0.99)),
    hcodes: total.hcodes,
    summary: {
      requests: total.requests,
      s2xx: total.s2xx,
      s3xx: total.s3xx,
      s4xx: total.s4xx,
      s5xx: total.s5xx,
      herr: total.herr,
      bytes: total.bytes,
      p50: quantile(total.sketch, 0.5),
      p95: quantile(total.sketch, 0.95),
      p99: quantile(total.sketch, 0.99),
    },
    dynos,
  };
}
