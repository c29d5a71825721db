/** Summary statistics the benchmarks report: medians of at least 3 runs, with min and max. */
export interface Summary {
  runs: number[];
  median: number;
  min: number;
  max: number;
}

export function summarize(runs: number[]): Summary {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { runs, median: round(median), min: round(sorted[0]), max: round(sorted[sorted.length - 1]) };
}

export function ratio(ours: number, peer: number): number {
  return peer === 0 ? NaN : round(ours / peer, 3);
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export async function timeIt<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, value };
}
