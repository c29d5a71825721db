import type { LogEntry } from './types';

/**
 * Heroku's log line format: `2026-11-28T06:00:00.123Z app[web.1]: listening on 5000`.
 * App output, API changes and build lines are the app's ("app[...]"); the router's and the
 * platform's own notices are "slipway[...]", as Heroku writes "heroku[router]".
 */
export function formatLogEntry(e: LogEntry): string {
  const who = e.source === 'router' || e.source === 'platform' ? 'slipway' : 'app';
  return `${e.time} ${who}[${e.dyno}]: ${e.line}`;
}
