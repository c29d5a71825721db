import type { Server } from 'node:http';

/**
 * Graceful shutdown for a long-running process: on SIGTERM/SIGINT stop accepting connections,
 * run the cleanup steps in order, exit 0; a second signal or a stuck step exits at once.
 */
export function onShutdown(name: string, servers: Server[], steps: Array<() => Promise<void> | void>, graceMs = 10_000): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`${name}: ${signal} received, shutting down`);
    const timer = setTimeout(() => {
      console.error(`${name}: shutdown took longer than ${graceMs} ms, exiting`);
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
        console.error(`${name}: shutdown step failed: ${(err as Error).message}`);
      }
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
