import type * as http from 'node:http';
import type { Socket } from 'node:net';
import type httpProxy from 'http-proxy';
import type { AccessLog, AccessRecord } from './access-log';
import { claim, type Backend, type Pools } from './balancer';
import { clientAddress, requestIdFrom, upstreamRequestHeaders } from './headers';
import { ERRORS, renderPage, type RouterError } from './pages';
import { normalizeHost, type RouteTable } from './route-table';

/**
 * WebSocket upgrades, through http-proxy's ws pass, with the same routing and balancing as plain
 * requests. http-proxy leaves sockets without error handlers before the upgrade and never links the
 * two sockets' lifetimes (node-http-proxy#1468: an ECONNRESET on either can crash the process or
 * leak the other), so both get handlers here and each destroys the other when it closes.
 * After the handshake the pair is idle-limited (H15).
 */
export interface WsDeps {
  table(): RouteTable;
  pools: Pools;
  log: AccessLog;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

function rawToObject(raw: string[]): http.IncomingHttpHeaders {
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    out[k] = out[k] === undefined ? raw[i + 1] : `${out[k]}, ${raw[i + 1]}`;
  }
  return out;
}

function hostCount(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') n++;
  return n;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 502: 'Bad Gateway' };

function writeError(socket: Socket, err: RouterError, requestId: string): number {
  const body = renderPage(err, requestId);
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${err.status} ${REASONS[err.status] ?? 'Service Unavailable'}\r\n` +
        `Content-Type: text/html; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n` +
        `X-Request-Id: ${requestId}\r\nVia: 1.1 slipway\r\n\r\n${body}`,
    );
  }
  socket.destroySoon?.();
  return Buffer.byteLength(body);
}

interface WsExchange {
  rec: AccessRecord;
  started: number;
  socket: Socket;
  upgraded: boolean;
  upstream?: Socket;
  fail(err: RouterError): void;
}

export interface UpgradeHandler {
  (req: http.IncomingMessage, socket: Socket, head: Buffer): void;
  /** Open WebSocket connections (client side). */
  open: Set<Socket>;
}

export function createUpgradeHandler(deps: WsDeps): UpgradeHandler {
  const open = new Set<Socket>();
  const exchanges = new WeakMap<http.IncomingMessage, WsExchange>();
  // http-proxy (with follow-redirects and eventemitter3: ~1 MiB in each router process) is loaded
  // at the first WebSocket upgrade, not at start: many routers never see one.
  let wsProxy: httpProxy | undefined;
  const proxyOnce = (): httpProxy => {
    if (wsProxy) return wsProxy;
    const proxy = (require('http-proxy') as typeof httpProxy).createProxyServer({
      ws: true,
      xfwd: false,
      changeOrigin: false,
    });
    // Errors reach the per-call callback; this listener only keeps an unexpected one from crashing us.
    proxy.on('error', () => undefined);
    // http-proxy emits this synchronously inside proxy.ws(); the exchange is found by its request.
    proxy.on('proxyReqWs', (proxyReq: http.ClientRequest, req: http.IncomingMessage) => {
      const x = exchanges.get(req);
      if (!x) return;
      const { rec, socket } = x;
      const handshakeTimer = setTimeout(() => {
        if (x.upgraded || socket.destroyed) return;
        proxyReq.destroy();
        x.fail(ERRORS.timeout);
      }, deps.firstByteTimeoutMs);
      proxyReq.on('upgrade', (_res: http.IncomingMessage, up: Socket) => {
        clearTimeout(handshakeTimer);
        x.upgraded = true;
        x.upstream = up;
        // Link the two sockets: whichever closes or fails first takes the other down.
        up.on('error', () => socket.destroy());
        up.on('close', () => socket.destroy());
        if (socket.destroyed) up.destroy();
        socket.setTimeout(deps.idleTimeoutMs, () => {
          deps.log.write({
            ...rec,
            at: 'error',
            code: 'H15',
            desc: 'Idle connection',
            serviceMs: Date.now() - x.started,
            status: 101,
          });
          socket.destroy();
        });
        rec.status = 101;
        rec.serviceMs = Date.now() - x.started;
        deps.log.write(rec);
      });
      proxyReq.on('response', (res: http.IncomingMessage) => {
        // The dyno declined the upgrade: http-proxy relays its answer; log it like a request.
        clearTimeout(handshakeTimer);
        rec.status = res.statusCode ?? 0;
        rec.serviceMs = Date.now() - x.started;
        res.on('error', () => socket.destroy());
        deps.log.write(rec);
      });
      proxyReq.on('close', () => clearTimeout(handshakeTimer));
    });
    wsProxy = proxy;
    return proxy;
  };

  const onUpgrade = function onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer) {
    socket.on('error', () => socket.destroy());
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    const started = Date.now();
    const host = normalizeHost(req.headers.host);
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const clientIp = clientAddress(socket.remoteAddress);
    const secure = (socket as { encrypted?: boolean }).encrypted === true;
    const route = deps.table().lookup(host);
    const rec: AccessRecord = {
      app: route?.app ?? '-',
      at: 'info',
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      host: host || '-',
      requestId,
      fwd: clientIp,
      dyno: '',
      connectMs: 0,
      serviceMs: 0,
      status: 0,
      bytes: 0,
      protocol: secure ? 'https' : 'http',
    };
    let logged = false;
    const fail = (err: RouterError) => {
      if (logged) return;
      logged = true;
      rec.at = err.code ? 'error' : 'info';
      rec.code = err.code;
      rec.desc = err.code ? err.desc : undefined;
      rec.status = err.status;
      rec.serviceMs = Date.now() - started;
      rec.bytes = writeError(socket, err, requestId);
      deps.log.write(rec);
    };

    // Two Host headers (Node keeps only the first in req.headers) or a target that is not
    // origin-form: ambiguous about which app is meant, refused like on the plain path. Browsers
    // always send origin-form WebSocket handshakes, so absolute-form is not rewritten here.
    if (req.url?.charCodeAt(0) !== 47 || hostCount(req.rawHeaders) > 1) return fail(ERRORS.badRequest);
    if (!route) return fail(ERRORS.noSuchApp);
    if (String(req.headers.upgrade).toLowerCase() !== 'websocket' || req.method !== 'GET') {
      // Only WebSocket upgrades are proxied (like Heroku); anything else is refused plainly.
      rec.status = 400;
      deps.log.write(rec);
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (route.maintenance) return fail(ERRORS.maintenance);
    if (route.released === false) return fail(ERRORS.notDeployed);
    if (route.web === false) return fail(ERRORS.noWebProcess);
    if (route.webQuantity === 0) return fail(ERRORS.noWebDynos);
    const pool = deps.pools.get(route.app);
    const backend: Backend | undefined = pool?.pick();
    if (!pool || !backend) return fail(ERRORS.appCrashed);

    const release = claim(backend);
    rec.dyno = backend.dyno;
    req.headers = rawToObject(
      upstreamRequestHeaders(req.rawHeaders, {
        clientIp,
        proto: rec.protocol,
        port: socket.localPort ?? 0,
        requestId,
        upgrade: true,
      }),
    );
    const x: WsExchange = { rec, started, socket, upgraded: false, fail };
    exchanges.set(req, x);
    socket.on('close', () => {
      release();
      x.upstream?.destroy();
    });

    proxyOnce().ws(req, socket, head, { target: backend.url }, (err: NodeJS.ErrnoException) => {
      if (x.upgraded) {
        socket.destroy();
        return;
      }
      release();
      if (err.code === 'ECONNREFUSED') pool.markRefused(backend);
      fail(err.code === 'ECONNREFUSED' ? ERRORS.appCrashed : ERRORS.closed);
    });
  };
  return Object.assign(onUpgrade, { open });
}
