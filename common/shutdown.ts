import type { Server } from 'node:http';
import { createLogger } from './logger';

/**
 * Graceful shutdown for a long-running process: on SIGTERM/SIGINT stop accepting connections,
 * run the cleanup steps in order, exit 0; a second signal or a stuck step exits at once.
 */
export function onShutdown(
  name: string,
  servers: Server[],
  steps: Array<() => Promise<void> | void>,
  graceMs = 10_000,
  /** false: a repeated signal is ignored (a router worker gets SIGTERM from systemd and its primary). */
  secondSignalExits = true,
): (reason: string) => void {
  const log = createLogger(name);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      if (secondSignalExits) process.exit(1);
      return;
    }
    stopping = true;
    log.info(`${signal} received, shutting down`);
    const timer = setTimeout(() => {
      log.error(`shutdown took longer than ${graceMs} ms, exiting`);
      process.exit(1);
    }, graceMs);
    timer.unref();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections?.();
          }),
      ),
    );
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        log.error(`shutdown step failed: ${(err as Error).message}`);
      }
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return (reason) => void stop(reason);
}
