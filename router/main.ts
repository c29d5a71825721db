import * as fs from 'node:fs';
import type { Server } from 'node:http';
import { homePaths, loadConfig } from '../common/config';
import { SlipwayError } from '../common/errors';
import { onShutdown } from '../common/lifecycle';
import { ensurePlatformCertificate } from '../common/platform-cert';
import { DEFAULT_ROUTER_OPTIONS, startRouter, type RouterOptions } from './router';

/**
 * slipway-router: the data plane. Reads SLIPWAY_* settings once (common/config.ts) plus its own
 * SLIPWAY_ROUTER_* tuning (docs/router.md), loads run/routes.json, and serves without the server.
 */
function envInt(key: string, fallback: number): number {
  const raw = process.env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new SlipwayError('CONFIG_INVALID', `${key}=${JSON.stringify(raw)} must be a positive whole number`, { hint: `unset ${key} for the default (${fallback})` });
  }
  return n;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const paths = homePaths(config.home);
  fs.mkdirSync(paths.run, { recursive: true });
  fs.mkdirSync(paths.logs, { recursive: true });
  const strategy = process.env.SLIPWAY_ROUTER_BALANCE ?? DEFAULT_ROUTER_OPTIONS.strategy;
  if (strategy !== 'round-robin' && strategy !== 'least-outstanding') {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_ROUTER_BALANCE=${JSON.stringify(strategy)} is not a strategy`, { hint: 'use round-robin or least-outstanding' });
  }
  const httpsOff = process.env.SLIPWAY_ROUTER_HTTPS === 'off';
  const defaultCert = httpsOff ? undefined : await ensurePlatformCertificate(paths, config.domain);
  const opts: RouterOptions = {
    home: config.home,
    bindHost: config.bindHost,
    httpPort: config.httpPort,
    httpsPort: httpsOff ? null : config.httpsPort,
    defaultCert,
    firstByteTimeoutMs: envInt('SLIPWAY_ROUTER_TIMEOUT_MS', DEFAULT_ROUTER_OPTIONS.firstByteTimeoutMs),
    idleTimeoutMs: envInt('SLIPWAY_ROUTER_IDLE_MS', DEFAULT_ROUTER_OPTIONS.idleTimeoutMs),
    headersTimeoutMs: envInt('SLIPWAY_ROUTER_HEADERS_TIMEOUT_MS', DEFAULT_ROUTER_OPTIONS.headersTimeoutMs),
    requestTimeoutMs: envInt('SLIPWAY_ROUTER_REQUEST_TIMEOUT_MS', DEFAULT_ROUTER_OPTIONS.requestTimeoutMs),
    maxHeaderSize: envInt('SLIPWAY_ROUTER_MAX_HEADER_BYTES', DEFAULT_ROUTER_OPTIONS.maxHeaderSize),
    keepAliveTimeoutMs: envInt('SLIPWAY_ROUTER_KEEPALIVE_MS', DEFAULT_ROUTER_OPTIONS.keepAliveTimeoutMs),
    strategy,
    agentIdleMs: envInt('SLIPWAY_ROUTER_AGENT_IDLE_MS', DEFAULT_ROUTER_OPTIONS.agentIdleMs),
    skipMs: envInt('SLIPWAY_ROUTER_SKIP_MS', DEFAULT_ROUTER_OPTIONS.skipMs),
    maxSocketsPerDyno: envInt('SLIPWAY_ROUTER_MAX_SOCKETS_PER_DYNO', DEFAULT_ROUTER_OPTIONS.maxSocketsPerDyno),
    accessLogMaxBytes: envInt('SLIPWAY_ROUTER_ACCESS_LOG_MAX_BYTES', DEFAULT_ROUTER_OPTIONS.accessLogMaxBytes),
  };
  const router = await startRouter(opts);
  // One parseable line: tests and install.sh read the ports from it.
  console.log(`slipway-router listening http=${config.bindHost}:${router.httpPort} https=${router.httpsPort === null ? 'off' : `${config.bindHost}:${router.httpsPort}`} home=${config.home}`);
  // Registered before onShutdown's handlers, so open WebSockets are ended first and the servers'
  // close() does not wait out the grace period for them.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => router.closeWebSockets());
  onShutdown('slipway-router', router.servers as Server[], [() => router.stop()]);
}

main().catch((err) => {
  console.error(`slipway-router: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`);
  process.exit(1);
});
