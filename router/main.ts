import * as fs from 'node:fs';
import type { Server } from 'node:http';
import { homePaths, loadConfig } from '../common/config';
import { setLogLevel } from '../common/logger';
import { onShutdown } from '../common/shutdown';
import { ensurePlatformCertificate } from '../common/platform-cert';
import { DEFAULT_ROUTER_OPTIONS, startRouter, type RouterOptions } from './router';

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
  const D = DEFAULT_ROUTER_OPTIONS;
  const defaultCert = httpsOff ? undefined : await ensurePlatformCertificate(paths, config.domain);
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
  };
  const router = await startRouter(opts);
  // One parseable line: tests and install.sh read the ports from it.
  console.log(
    `slipway-router listening http=${config.bindHost}:${router.httpPort} https=${router.httpsPort === null ? 'off' : `${config.bindHost}:${router.httpsPort}`} home=${config.home}`,
  );
  // Registered before onShutdown's handlers, so open WebSockets are ended first and the servers'
  // close() does not wait out the grace period for them.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => router.closeWebSockets());
  onShutdown('slipway-router', router.servers as Server[], [() => router.stop()]);
}

main().catch((err) => {
  console.error(`slipway-router: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`);
  process.exit(1);
});
