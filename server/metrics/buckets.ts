import { decode, encode, merge as mergeSketch, newSketch, type Sketch } from './sketch';
import type { DynoRow, RouterRow } from '../state/repos/metrics';

/** One app's router traffic in one time bucket, in memory. */
export interface RouterBucket {
  requests: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  /** Router errors (an H code on the line), also counted in their status class. */
  herr: number;
  hcodes: Record<string, number>;
  bytes: number;
  sketch: Sketch;
}

export interface DynoBucket {
  samples: number;
  cpuSum: number;
  cpuMax: number;
  memSum: number;
  memMax: number;
}

export function newRouterBucket(): RouterBucket {
  return { requests: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0, herr: 0, hcodes: {}, bytes: 0, sketch: newSketch() };
}

export function newDynoBucket(): DynoBucket {
  return { samples: 0, cpuSum: 0, cpuMax: 0, memSum: 0, memMax: 0 };
}

export function routerFromRow(r: RouterRow): RouterBucket {
  let hcodes: Record<string, number> = {};
  try {
    hcodes = JSON.parse(r.hcodes) as Record<string, number>;
  } catch {
    // a damaged row keeps its counts
  }
  return {
    requests: r.requests,
    s2xx: r.s2xx,
    s3xx: r.s3xx,
    s4xx: r.s4xx,
    s5xx: r.s5xx,
    herr: r.herr,
    hcodes,
    bytes: r.bytes,
    sketch: decode(r.sketch),
  };
}

export function routerToRow(appId: number, res: number, ts: number, b: RouterBucket): RouterRow {
  return {
    appId,
    res,
    ts,
    requests: b.requests,
    s2xx: b.s2xx,
    s3xx: b.s3xx,
    s4xx: b.s4xx,
    s5xx: b.s5xx,
    herr: b.herr,
    hcodes: JSON.stringify(b.hcodes),
    bytes: b.bytes,
    sketch: encode(b.sketch),
  };
}

export function mergeRouter(into: RouterBucket, from: RouterBucket): RouterBucket {
  into.requests += from.requests;
  into.s2xx += from.s2xx;
  into.s3xx += from.s3xx;
  into.s4xx += from.s4xx;
  into.s5xx += from.s5xx;
  into.herr += from.herr;
  into.bytes += from.bytes;
  for (const [k, n] of Object.entries(from.hcodes)) into.hcodes[k] = (into.hcodes[k] ?? 0) + n;
  mergeSketch(into.sketch, from.sketch);
  return into;
}

export function mergeDyno(into: DynoBucket, from: DynoBucket): DynoBucket {
  into.samples += from.samples;
  into.cpuSum += from.cpuSum;
  into.cpuMax = Math.max(into.cpuMax, from.cpuMax);
  into.memSum += from.memSum;
  into.memMax = Math.max(into.memMax, from.memMax);
  return into;
}

export function dynoFromRow(r: DynoRow): DynoBucket {
  return { samples: r.samples, cpuSum: r.cpuSum, cpuMax: r.cpuMax, memSum: r.memSum, memMax: r.memMax };
}

export function dynoToRow(appId: number, res: number, ts: number, ptype: string, b: DynoBucket): DynoRow {
  return { appId, res, ts, ptype, ...b };
}
