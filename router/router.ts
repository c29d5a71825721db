import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { homePaths } from '../common/config';
import { createAccessLog } from './access-log';
import { createAcmeResponder } from './acme-challenge';
import { createPools, type Strategy } from './balancer';
import { createHttpHandler } from './proxy-http';
import { createUpgradeHandler } from './proxy-ws';
import { watchRoutes } from './routes-watcher';
import { createSniStore } from './tls';
import { createLogger } from '../common/logger';

const logger = createLogger('slipway-router');

/** Every setting of the router process; router/main.ts reads them from the environment. */
export interface RouterOptions {
  home: string;
  bindHost: string;
  httpPort: number;
  /** null: no https listener. */
  httpsPort: number | null;
  /** Default certificate of the https listener (the platform's self-signed one). */
  defaultCert?: { certFile: string; keyFile: string };
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxHeaderSize: number;
  keepAliveTimeoutMs: number;
  strategy: Strategy;
  agentIdleMs: number;
  skipMs: number;
  maxSocketsPerDyno: number;
  accessLogMaxBytes: number;
  /** This process rotates the access log (false in router workers but the first). Default true. */
  rotateAccessLog?: boolean;
  /** Several router processes: /healthz reports all of them (router/workers.ts). */
  clusterStats?: () => Promise<Record<string, unknown>>;
}

const LISTEN_BACKLOG = 4096;

export const DEFAULT_ROUTER_OPTIONS = {
  firstByteTimeoutMs: 30_000,
  idleTimeoutMs: 55_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  maxHeaderSize: 16 * 1024,
  keepAliveTimeoutMs: 65_000,
  strategy: 'least-outstanding' as Strategy,
  agentIdleMs: 4_000,
  skipMs: 5_000,
  maxSocketsPerDyno: 512,
  accessLogMaxBytes: 50 * 1024 * 1024,
};

export interface RunningRouter {
  httpPort: number;
  httpsPort: number | null;
  stats(): Promise<Record<string, unknown>>;
  servers: http.Server[];
  /** Ends every proxied WebSocket (server.close() would otherwise wait for them). */
  closeWebSockets(): void;
  stop(): Promise<void>;
}

function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // Malformed requests (smuggling attempts included) get a plain status and a closed connection.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  setTimeout(() => socket.destroy(), 1000).unref();
}

export async function startRouter(opts: RouterOptions): Promise<RunningRouter> {
  const home = homePaths(opts.home);
  const paths = { routes: home.routesFile, accessLog: home.routerAccessLog };
  const log = createAccessLog({
    file: paths.accessLog,
    maxBytes: opts.accessLogMaxBytes,
    rotate: opts.rotateAccessLog !== false,
  });
  const pools = createPools(opts);
  const fallback = opts.defaultCert
    ? tls.createSecureContext({
        cert: fs.readFileSync(opts.defaultCert.certFile),
        key: fs.readFileSync(opts.defaultCert.keyFile),
      })
    : undefined;
  const sni = createSniStore({ home: opts.home, fallback });
  const acme = createAcmeResponder(path.join(opts.home, 'run', 'acme-challenges.json'));
  const watcher = watchRoutes(paths.routes, (table) => {
    pools.update(table);
    sni.update(table.certificates);
  });
  let uncaught = 0;
  const onUncaught = (err: Error) => {
    // Counted and reported by /healthz; the robustness tests require it to stay 0.
    uncaught++;
    logger.error(`uncaught exception (kept serving): ${err.stack ?? err.message}`);
  };
  process.on('uncaughtException', onUncaught);

  const servers: http.Server[] = [];
  let httpsPort: number | null = null;
  const serverOptions: http.ServerOptions = {
    maxHeaderSize: opts.maxHeaderSize,
    headersTimeout: opts.headersTimeoutMs,
    requestTimeout: opts.requestTimeoutMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(opts.headersTimeoutMs / 4))),
    noDelay: true,
  };
  const stats = async () => ({
    status: 'ok',
    pid: process.pid,
    apps: watcher.current().apps.size,
    generatedAt: watcher.current().generatedAt,
    certificates: sni.hosts().length,
    upstreamSockets: pools.socketCount(),
    clientConnections: (
      await Promise.all(servers.map((s) => new Promise<number>((r) => s.getConnections((_e, n) => r(n ?? 0)))))
    ).reduce((a, b) => a + b, 0),
    uncaughtExceptions: uncaught,
    memoryRss: process.memoryUsage().rss,
  });
  const health = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url !== '/healthz') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    void (opts.clusterStats ?? stats)().then((s) =>
      res
        .writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
        .end(`${JSON.stringify(s)}\n`),
    );
  };
  const handler = createHttpHandler({
    table: watcher.current,
    pools,
    log,
    firstByteTimeoutMs: opts.firstByteTimeoutMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    httpsPort: () => httpsPort,
    health,
    acme: acme.answer,
  });
  const upgrade = createUpgradeHandler({
    table: watcher.current,
    pools,
    log,
    firstByteTimeoutMs: opts.firstByteTimeoutMs,
    idleTimeoutMs: opts.idleTimeoutMs,
  });

  const plain = http.createServer(serverOptions, handler);
  servers.push(plain);
  let secure: https.Server | undefined;
  if (opts.httpsPort !== null) {
    secure = https.createServer(
      {
        ...serverOptions,
        SNICallback: sni.SNICallback,
        ...(opts.defaultCert
          ? { cert: fs.readFileSync(opts.defaultCert.certFile), key: fs.readFileSync(opts.defaultCert.keyFile) }
          : {}),
      },
      handler,
    );
    secure.on('tlsClientError', (_err, socket) => socket.destroy());
    servers.push(secure as unknown as http.Server);
  }
  for (const s of servers) {
    s.keepAliveTimeout = opts.keepAliveTimeoutMs;
    s.on('clientError', onClientError);
    s.on('upgrade', upgrade);
  }
  const listen = (s: http.Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      // A deeper accept queue than Node's 511 (the kernel caps it at net.core.somaxconn): a burst
      // of new connections (1,000 clients at once) otherwise overflows it, and each dropped
      // handshake costs its client a 1 s or 3 s retransmission.
      s.listen({ port, host: opts.bindHost, backlog: LISTEN_BACKLOG }, () => {
        s.off('error', reject);
        resolve((s.address() as { port: number }).port);
      });
    });
  const httpPort = await listen(plain, opts.httpPort);
  if (secure && opts.httpsPort !== null) httpsPort = await listen(secure as unknown as http.Server, opts.httpsPort);

  return {
    httpPort,
    httpsPort,
    servers,
    stats,
    closeWebSockets() {
      for (const s of upgrade.open) s.destroy();
    },
    async stop() {
      for (const s of upgrade.open) s.destroy();
      watcher.close();
      acme.close();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections?.();
            }),
        ),
      );
      pools.destroy();
      await log.close();
      process.off('uncaughtException', onUncaught);
    },
  };
}
