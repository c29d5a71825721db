import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HomePaths } from '../../common/config';
import { isValidAppName } from '../../common/names';
import type { LogEntry, LogSink, LogSource } from './types';
import { createRouterLogTail } from './router-tail';
import { createLogger } from '../../common/logger';

const log = createLogger('slipway-server');

/** Lines kept per app (memory and disk), like Heroku's log buffer. */
export const LINES_PER_APP = 1500;
/** A single line longer than this is cut: one runaway write must not evict the whole buffer's worth of memory. */
export const MAX_LINE_CHARS = 10_000;
const SOURCES: readonly LogSource[] = ['app', 'router', 'build', 'api', 'platform'];

export interface TailOptions {
  lines?: number;
  source?: LogSource;
  /** A process type ("web": every web dyno) or one dyno ("web.1"). */
  dyno?: string;
}

export interface LogHub extends LogSink {
  tail(app: string, opts?: TailOptions): LogEntry[];
  subscribe(app: string, fn: (e: LogEntry) => void): () => void;
  /** Drops an app's buffer and file (apps:destroy). */
  forget(app: string): void;
  /** Writes pending lines and stops tailing the router's access log. */
  close(): void;
}

export function matchesFilter(e: LogEntry, opts: TailOptions): boolean {
  if (opts.source && e.source !== opts.source) return false;
  if (opts.dyno && e.dyno !== opts.dyno && !e.dyno.startsWith(opts.dyno + '.')) return false;
  return true;
}

/**
 * The log hub: one stream per app, merged from dynos, one-off dynos, the router, builds, API
 * changes and the platform. Each app's last LINES_PER_APP lines live in memory and in
 * log/apps/APP.ndjson (appended per event-loop turn; compacted to the last LINES_PER_APP lines once
 * it holds twice that), so they survive deploys and server restarts with a bounded footprint.
 * Subscribers (`logs -t`) are called synchronously from write(): live delay is one HTTP flush.
 */
export function createLogHub(deps: {
  paths: HomePaths;
  routerPollMs?: number;
  /** Also called for every router access-log line (server/metrics aggregates them). */
  onRouterLine?: (app: string, time: Date, line: string) => void;
}): LogHub {
  const dir = path.join(deps.paths.logs, 'apps');
  fs.mkdirSync(dir, { recursive: true });
  const rings = new Map<string, { entries: LogEntry[]; fileLines: number }>();
  const pending = new Map<string, string[]>();
  const subscribers = new Map<string, Set<(e: LogEntry) => void>>();
  let flushScheduled = false;

  const fileOf = (app: string) => path.join(dir, `${app}.ndjson`);

  function ring(app: string) {
    let r = rings.get(app);
    if (!r) {
      r = { entries: load(fileOf(app)), fileLines: 0 };
      r.fileLines = r.entries.length;
      if (r.entries.length > LINES_PER_APP) r.entries = r.entries.slice(-LINES_PER_APP);
      rings.set(app, r);
    }
    return r;
  }

  function flush(): void {
    flushScheduled = false;
    for (const [app, lines] of pending) {
      pending.delete(app);
      const r = ring(app);
      try {
        if (r.fileLines + lines.length > 2 * LINES_PER_APP) {
          // Compact: rewrite the file with exactly what the ring holds (atomic rename).
          const tmp = `${fileOf(app)}.${process.pid}.tmp`;
          fs.writeFileSync(tmp, r.entries.map((e) => JSON.stringify(e) + '\n').join(''));
          fs.renameSync(tmp, fileOf(app));
          r.fileLines = r.entries.length;
        } else {
          fs.appendFileSync(fileOf(app), lines.join(''));
          r.fileLines += lines.length;
        }
      } catch (err) {
        log.error(`cannot write the log buffer of ${app}: ${(err as Error).message}`);
      }
    }
  }

  function write(app: string, entry: { source: LogSource; dyno: string; line: string; time?: Date }): void {
    if (!isValidAppName(app) || !SOURCES.includes(entry.source)) return;
    const time = (entry.time && !Number.isNaN(entry.time.getTime()) ? entry.time : new Date()).toISOString();
    const dyno = String(entry.dyno || entry.source).slice(0, 64);
    // One entry per line: a multi-line write (a stack trace) stays readable and filterable.
    const lines = String(entry.line)
      .replace(/\r?\n$/, '')
      .split(/\r?\n/);
    const r = ring(app);
    for (const raw of lines) {
      const e: LogEntry = {
        time,
        app,
        source: entry.source,
        dyno,
        line: raw.length > MAX_LINE_CHARS ? raw.slice(0, MAX_LINE_CHARS) + '…' : raw,
      };
      r.entries.push(e);
      if (r.entries.length > LINES_PER_APP) r.entries.splice(0, r.entries.length - LINES_PER_APP);
      const p = pending.get(app) ?? [];
      p.push(JSON.stringify(e) + '\n');
      pending.set(app, p);
      for (const fn of subscribers.get(app) ?? []) {
        try {
          fn(e);
        } catch (err) {
          log.error(`log subscriber failed: ${(err as Error).message}`);
        }
      }
    }
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  const routerTail = createRouterLogTail({
    file: deps.paths.routerAccessLog,
    offsetFile: deps.paths.routerAccessOffset,
    pollMs: deps.routerPollMs ?? 200,
    onLine: (app, time, line) => {
      write(app, { source: 'router', dyno: 'router', line, time });
      deps.onRouterLine?.(app, time, line);
    },
  });

  return {
    write,
    tail(app, opts = {}) {
      if (!isValidAppName(app)) return [];
      const n = Math.max(0, Math.min(opts.lines ?? 100, LINES_PER_APP));
      const matching = ring(app).entries.filter((e) => matchesFilter(e, opts));
      return n === 0 ? [] : matching.slice(-n);
    },
    subscribe(app, fn) {
      const set = subscribers.get(app) ?? new Set();
      set.add(fn);
      subscribers.set(app, set);
      return () => {
        set.delete(fn);
        if (set.size === 0) subscribers.delete(app);
      };
    },
    forget(app) {
      if (!isValidAppName(app)) return;
      pending.delete(app);
      rings.delete(app);
      fs.rmSync(fileOf(app), { force: true });
    },
    close() {
      flush();
      routerTail.stop();
    },
  };
}

function load(file: string): LogEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: LogEntry[] = [];
  for (const l of text.split('\n')) {
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as LogEntry);
    } catch {
      // A torn last line after a crash: skip it, keep the rest.
    }
  }
  return out;
}
