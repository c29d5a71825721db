/**
 * A mergeable latency sketch: a log-bucketed histogram (the DDSketch idea). A value v > 0 lands
 * in bucket ceil(log_gamma(v)), so every quantile is answered within ALPHA relative error, two
 * sketches merge by adding counts, and the size is bounded by the value range, not the number
 * of requests: latencies are clamped to [MIN_MS, MAX_MS], so at most ~450 buckets ever exist
 * (typically a few dozen). Values below MIN_MS count in bucket 0.
 */
export const ALPHA = 0.02;
const GAMMA = (1 + ALPHA) / (1 - ALPHA);
const LOG_GAMMA = Math.log(GAMMA);
const MIN_MS = 0.5;
const MAX_MS = 3_600_000;

export interface Sketch {
  counts: Map<number, number>;
  total: number;
}

export function newSketch(): Sketch {
  return { counts: new Map(), total: 0 };
}

export function bucketOf(ms: number): number {
  if (!(ms >= MIN_MS)) return 0;
  return Math.max(1, Math.ceil(Math.log(Math.min(ms, MAX_MS)) / LOG_GAMMA));
}

/** The representative value of a bucket: the point with equal relative error to both edges. */
export function valueOf(bucket: number): number {
  if (bucket <= 0) return 0;
  return (2 * Math.pow(GAMMA, bucket)) / (GAMMA + 1);
}

export function add(s: Sketch, ms: number, n = 1): void {
  const b = bucketOf(ms);
  s.counts.set(b, (s.counts.get(b) ?? 0) + n);
  s.total += n;
}

export function merge(into: Sketch, from: Sketch): Sketch {
  for (const [b, n] of from.counts) into.counts.set(b, (into.counts.get(b) ?? 0) + n);
  into.total += from.total;
  return into;
}

/** The q-quantile (0..1) in ms, or null for an empty sketch. */
export function quantile(s: Sketch, q: number): number | null {
  if (s.total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * s.total));
  let seen = 0;
  for (const b of [...s.counts.keys()].sort((x, y) => x - y)) {
    seen += s.counts.get(b)!;
    if (seen >= rank) return Math.round(valueOf(b) * 10) / 10;
  }
  return null;
}

/** Compact text form for storage: "bucket:count,bucket:count". */
export function encode(s: Sketch): string {
  return [...s.counts].map(([b, n]) => `${b}:${n}`).join(',');
}

export function decode(text: string): Sketch {
  const s = newSketch();
  if (!text) return s;
  for (const part of text.split(',')) {
    const i = part.indexOf(':');
    const b = Number(part.slice(0, i));
    const n = Number(part.slice(i + 1));
    if (Number.isInteger(b) && Number.isFinite(n) && n > 0) {
      s.counts.set(b, (s.counts.get(b) ?? 0) + n);
      s.total += n;
    }
  }
  return s;
}
