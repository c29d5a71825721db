/**
 * The log hub's contract (implemented in server/logs/hub.ts). Every part that produces app-facing
 * log lines writes through this: dynos (source "app", dyno "web.1"), the router (source
 * "router"), builds ("build"), API changes ("api", e.g. "Release v3 created by ana@example.com"),
 * and the platform itself ("platform", e.g. crash restarts). Lines are kept per app (last 1,500,
 * on disk, surviving deploys and restarts) and streamed live to `slipway logs -t`.
 */
export type LogSource = 'app' | 'router' | 'build' | 'api' | 'platform';

export interface LogEntry {
  time: string; // ISO-8601
  app: string;
  source: LogSource;
  /** Heroku-style dyno: "web.1", "run.4321", "router", "api". */
  dyno: string;
  line: string;
}

export interface LogSink {
  write(app: string, entry: { source: LogSource; dyno: string; line: string; time?: Date }): void;
}
