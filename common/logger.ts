/**
 * The platform's own log lines (not app logs: those go through server/logs). One line per call,
 * "<component>: <message>", errors and warnings on stderr, the rest on stdout, filtered by
 * SLIPWAY_LOG_LEVEL (common/config.ts `logLevel`, set once by each process's main with
 * setLogLevel). systemd/journald or the daemon wrapper adds the time.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: LogLevel = 'info';

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(component: string): Logger {
  const at = (level: LogLevel) => (message: string) => {
    if (ORDER[level] < ORDER[threshold]) return;
    const line = `${component}: ${message}`;
    if (ORDER[level] >= ORDER.warn) console.error(line);
    else console.log(line);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
