import * as fs from 'node:fs';
import type { Server } from 'node:http';
import { homePaths, loadConfig } from '../common/config';
import { setLogLevel } from '../common/logger';
import { onShutdown } from '../common/shutdown';
import { ensurePlatformCertificate } from '../common/platform-cert';
import type { RouterOptions } from './router';
import { isWorker, joinPrimary, superviseWorkers } from './workers';

/**
 * slipway-router: the data plane. Reads SLIPWAY_* settings once (common/config.ts, including its
 * SLIPWAY_ROUTER_* tuning, docs/router.md), loads run/routes.json, and serves without the server.
 */

async function main(): Promise<void> {
  const config = loadConfig();
  setLogLevel(config.logLevel);
  const paths = homePaths(config.home);
  fs.mkdirSync(paths.run, { recursive: true });
  fs.mkdirSync(paths.logs, { recursive: true });
  const r = config.router;
  const httpsOff = !r.https;
  const defaultCert = httpsOff ? undefined : await ensurePlatformCertificate(paths, config.domain);
  if (r.workers > 1 && !isWorker()) return supervise(r.workers, config.bindHost, config.home);
  // Loaded only where requests are served: the primary stays a small supervisor.
  const { DEFAULT_ROUTER_OPTIONS: D, startRouter } = require('./router') as typeof import('./router');
  const opts: RouterOptions = {
    home: config.home,
    bindHost: config.bindHost,
    httpPort: config.httpPort,
    httpsPort: httpsOff ? null : config.httpsPort,
    defaultCert,
    firstByteTimeoutMs: r.firstByteTimeoutMs ?? D.firstByteTimeoutMs,
    idleTimeoutMs: r.idleTimeoutMs ?? D.idleTimeoutMs,
    headersTimeoutMs: r.headersTimeoutMs ?? D.headersTimeoutMs,
    requestTimeoutMs: r.requestTimeoutMs ?? D.requestTimeoutMs,
    maxHeaderSize: r.maxHeaderSize ?? D.maxHeaderSize,
    keepAliveTimeoutMs: r.keepAliveTimeoutMs ?? D.keepAliveTimeoutMs,
    strategy: r.balance ?? D.strategy,
    agentIdleMs: r.agentIdleMs ?? D.agentIdleMs,
    skipMs: r.skipMs ?? D.skipMs,
    maxSocketsPerDyno: r.maxSocketsPerDyno ?? D.maxSocketsPerDyno,
    accessLogMaxBytes: r.accessLogMaxBytes ?? D.accessLogMaxBytes,
    // Worker 0 (or the single process) alone rotates the access log.
    rotateAccessLog: r.workerIndex === 0,
  };
  let channel: ReturnType<typeof joinPrimary> | undefined;
  if (isWorker()) {
    opts.clusterStats = () => channel!.clusterStats();
  }
  const router = await startRouter(opts);
  if (isWorker()) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => router.closeWebSockets());
    const stop = onShutdown(
      `slipway-router worker ${r.workerIndex}`,
      router.servers as Server[],
      [() => router.stop()],
      10_000,
      false,
    );
    channel = joinPrimary(
      () => router.stats(),
      () => {
        router.closeWebSockets();
        stop('stop from the primary');
      },
    );
    channel.listening(router.httpPort, router.httpsPort);
    return;
  }
  // One parseable line: tests and install.sh read the ports from it.
  console.log(
    `slipway-router listening http=${config.bindHost}:${router.httpPort} https=${router.httpsPort === null ? 'off' : `${config.bindHost}:${router.httpsPort}`} home=${config.home}`,
  );
  // Registered before onShutdown's handlers, so open WebSockets are ended first and the servers'
  // close() does not wait out the grace period for them.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => router.closeWebSockets());
  onShutdown('slipway-router', router.servers as Server[], [() => router.stop()]);
}

/** SLIPWAY_ROUTER_WORKERS > 1: this process supervises, the workers serve (router/workers.ts). */
async function supervise(count: number, bindHost: string, home: string): Promise<void> {
  const sup = await superviseWorkers(count);
  console.log(
    `slipway-router listening http=${bindHost}:${sup.httpPort} https=${sup.httpsPort === null ? 'off' : `${bindHost}:${sup.httpsPort}`} home=${home} workers=${count}`,
  );
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1); // a second signal: at once, as onShutdown does
      stopping = true;
      void sup.stop().then(() => process.exit(0));
    });
  }
}

main().catch((err) => {
  console.error(`slipway-router: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`);
  process.exit(1);
});
