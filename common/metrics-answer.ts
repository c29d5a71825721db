/**
 * The answer of GET /api/apps/APP/metrics: one declaration for the server that makes it
 * (server/metrics/query.ts), the CLI (`slipway metrics`) and the dashboard's metrics tab, which
 * read it. Types only: the dashboard's bundle imports this file too (no Node types here).
 */

/** What the metrics store answers for one app and range (server/metrics/query.ts). */
export interface MetricsResult {
  since: number;
  until: number;
  step: number;
  /** Start of each point, unix seconds (column arrays: ready for a plot). */
  time: number[];
  requests: number[];
  s2xx: number[];
  s3xx: number[];
  s4xx: number[];
  s5xx: number[];
  herr: number[];
  bytes: number[];
  /** Latency (connect + service) percentiles in ms; null where there were no requests. */
  p50: Array<number | null>;
  p95: Array<number | null>;
  p99: Array<number | null>;
  hcodes: Record<string, number>;
  summary: {
    requests: number;
    s2xx: number;
    s3xx: number;
    s4xx: number;
    s5xx: number;
    herr: number;
    bytes: number;
    p50: number | null;
    p95: number | null;
    p99: number | null;
  };
  /** Per process type: average CPU (% of one core) and memory (bytes) per dyno, and the maxima. */
  dynos: Record<
    string,
    {
      cpu: Array<number | null>;
      cpuMax: Array<number | null>;
      memory: Array<number | null>;
      memoryMax: Array<number | null>;
    }
  >;
}

/** The API's answer: the result with the app's name. */
export interface MetricsAnswer extends MetricsResult {
  app: string;
}
