import * as http from 'node:http';
import type { AccessLog, AccessRecord } from './access-log';
import { addHsts } from './acme-challenge';
import { claim, type Backend, type Pool, type Pools } from './balancer';
import { absoluteTarget, clientAddress, clientResponseHeaders, requestIdFrom, upstreamRequestHeaders } from './headers';
import { ERRORS, sendPage, type RouterError } from './pages';
import { normalizeHost, type AppRoute, type RouteTable } from './route-table';
import { rawPathAvailable, requestHead, type UpstreamExchange, type UpstreamHandlers } from './upstream';

/**
 * The plain-HTTP proxy path, hand-written rather than http-proxy's web passes (those build header
 * objects, run a chain of passes and attach listeners per request; docs/router.md has the numbers).
 * Bodiless requests go over the pool's raw keep-alive connections (router/upstream.ts), requests
 * with a body through Node's client with the pool's keep-alive agent.
 * It carries the fixes http-proxy lacks: the upstream request is destroyed when the client goes
 * away (node-http-proxy#1586), headers with invalid characters from a dyno become a 502 instead of
 * an exception (#1679, #964), and a connection refused before anything was sent is retried on
 * another dyno.
 */
export interface ProxyDeps {
  table(): RouteTable;
  pools: Pools;
  log: AccessLog;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** Port the https listener serves clients on (for https_only redirects), or null when off. */
  httpsPort(): number | null;
  health(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** ACME HTTP-01 challenges (router/acme-challenge.ts): answered before any app, maintenance or redirect. */
  acme?(req: http.IncomingMessage, res: http.ServerResponse, hostname: string): boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ECONNRESET']);

/** What the request line and headers tell us, read in one pass over rawHeaders. */
interface Scan {
  host: string | undefined;
  /** More than one Host header: which one names the app is ambiguous (RFC 9112 3.2: 400). */
  dupHost: boolean;
  requestId: string | undefined;
  hasBody: boolean;
}

function scan(raw: string[]): Scan {
  const s: Scan = { host: undefined, dupHost: false, requestId: undefined, hasBody: false };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          if (s.host === undefined) s.host = raw[i + 1];
          else s.dupHost = true;
        }
        break;
      case 12:
        if (name.toLowerCase() === 'x-request-id') s.requestId = raw[i + 1];
        break;
      case 14:
        if (name.toLowerCase() === 'content-length' && raw[i + 1] !== '0') s.hasBody = true;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') s.hasBody = true;
        break;
    }
  }
  return s;
}

export function createHttpHandler(deps: ProxyDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return function handle(req, res) {
    const started = Date.now();
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    const s = scan(req.rawHeaders);
    // Not origin-form ("/..."): an absolute-form target's authority replaces Host, as in nginx.
    let forcedHost: string | undefined;
    let badTarget = s.dupHost;
    if (!badTarget && req.url?.charCodeAt(0) !== 47) {
      const t = absoluteTarget(req.url ?? '');
      if (t) {
        s.host = forcedHost = t.host;
        req.url = t.path;
      } else badTarget = true;
    }
    const hostname = normalizeHost(s.host);
    if (badTarget) return refuseBadRequest(req, res, s, deps.log);
    if (hostname === 'slipway-router') return deps.health(req, res);
    if (deps.acme?.(req, res, hostname)) return;

    const requestId = requestIdFrom(s.requestId);
    const clientIp = clientAddress(req.socket.remoteAddress);
    const route = deps.table().lookup(hostname);
    const rec: AccessRecord = {
      app: route?.app ?? '-',
      at: 'info',
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      host: hostname || (s.host ?? '-'),
      requestId,
      fwd: clientIp,
      dyno: '',
      connectMs: 0,
      serviceMs: 0,
      status: 0,
      bytes: 0,
      protocol: secure ? 'https' : 'http',
    };
    const fail = (err: RouterError, extra?: string[]) => {
      rec.at = err.code ? 'error' : 'info';
      rec.code = err.code;
      rec.desc = err.code ? err.desc : undefined;
      rec.status = err.status;
      rec.serviceMs = Date.now() - started;
      rec.bytes = sendPage(res, err, requestId, extra);
      deps.log.write(rec);
    };

    if (!route) return fail(ERRORS.noSuchApp);
    if (route.httpsOnly && !secure) {
      const port = deps.httpsPort();
      if (port !== null) return redirectToHttps(req, res, rec, hostname, port, requestId, deps.log);
    }
    if (route.maintenance) return fail(ERRORS.maintenance);
    if (route.released === false) return fail(ERRORS.notDeployed);
    if (route.web === false) return fail(ERRORS.noWebProcess);
    if (route.webQuantity === 0) return fail(ERRORS.noWebDynos);
    const pool = deps.pools.get(route.app);
    if (!pool || pool.backends.length === 0) return fail(ERRORS.appCrashed);

    const headers = upstreamRequestHeaders(req.rawHeaders, {
      clientIp,
      proto: rec.protocol,
      port: req.socket.localPort ?? 0,
      requestId,
      host: forcedHost,
    });
    forward(req, res, { deps, pool, route, headers, hasBody: s.hasBody, rec, started, fail });
  };
}

/** 400 and close: the client's request is ambiguous, so nothing of it reaches a dyno. */
function refuseBadRequest(req: http.IncomingMessage, res: http.ServerResponse, s: Scan, log: AccessLog): void {
  const requestId = requestIdFrom(s.requestId);
  res.shouldKeepAlive = false;
  const rec: AccessRecord = {
    app: '-',
    at: 'error',
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    host: s.host ?? '-',
    requestId,
    fwd: clientAddress(req.socket.remoteAddress),
    dyno: '',
    connectMs: 0,
    serviceMs: 0,
    status: 400,
    bytes: 0,
    protocol: (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
    desc: ERRORS.badRequest.desc,
  };
  rec.bytes = sendPage(res, ERRORS.badRequest, requestId, ['Connection', 'close']);
  log.write(rec);
}

function redirectToHttps(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  rec: AccessRecord,
  hostname: string,
  port: number,
  requestId: string,
  log: AccessLog,
): void {
  const location = `https://${hostname}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`;
  // 308 keeps the method and body (a 301 turns a POST into a GET in browsers).
  res.writeHead(308, ['Location', location, 'Content-Length', '0', 'X-Request-Id', requestId, 'Via', '1.1 slipway']);
  res.end();
  rec.status = 308;
  log.write(rec);
}

interface Exchange {
  deps: ProxyDeps;
  pool: Pool;
  route: AppRoute;
  headers: string[];
  hasBody: boolean;
  rec: AccessRecord;
  started: number;
  fail: (err: RouterError) => void;
}

function contentLength(raw: string[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 14 && raw[i].toLowerCase() === 'content-length') return Number(raw[i + 1]);
  }
  return -1;
}

/**
 * Requests with a body go through Node's client with the pool's agent: it streams and re-chunks
 * the body. The body is not read from the client before the socket connected, so a refused
 * connection has consumed nothing and the request can move to another dyno.
 */
function sendWithAgent(
  pool: Pool,
  b: Backend,
  req: http.IncomingMessage,
  headers: string[],
  h: UpstreamHandlers,
): UpstreamExchange {
  const sentAt = Date.now();
  let connected = false;
  let upRes: http.IncomingMessage | undefined;
  const up = http.request({
    host: b.hostname,
    port: b.port,
    method: req.method,
    path: req.url,
    headers,
    agent: pool.agent,
    setHost: false,
  });
  up.on('socket', (sock) => {
    const onConnected = () => {
      connected = true;
      h.onConnect?.(Date.now() - sentAt);
      req.pipe(up);
    };
    if ((sock as { connecting?: boolean }).connecting) sock.once('connect', onConnected);
    else onConnected();
  });
  up.on('error', (err: NodeJS.ErrnoException) => h.onError(err, connected));
  up.on('response', (r) => {
    upRes = r;
    if (!h.onResponse(r.statusCode ?? 502, r.rawHeaders)) {
      r.destroy();
      up.destroy();
      return;
    }
    r.on('data', (chunk: Buffer) => h.onBody(chunk));
    r.on('end', () => h.onEnd());
    r.on('error', (err: NodeJS.ErrnoException) => h.onError(err, true));
  });
  return {
    abort() {
      up.destroy();
      upRes?.destroy();
    },
    pause: () => upRes?.pause(),
    resume: () => upRes?.resume(),
  };
}

function forward(req: http.IncomingMessage, res: http.ServerResponse, x: Exchange): void {
  const { deps, pool, rec } = x;
  let tried: Set<Backend> | undefined;
  let current: UpstreamExchange | undefined;
  /** Stops the current attempt: upstream aborted, its timers cleared, its dyno slot released. */
  let cancel: (() => void) | undefined;
  let done = false; // the access-log line is written

  const finish = (code?: RouterError | { code: string; desc: string }) => {
    if (done) return;
    done = true;
    if (code) {
      rec.at = 'error';
      rec.code = code.code;
      rec.desc = code.desc;
    }
    rec.serviceMs = Date.now() - x.started - rec.connectMs;
    deps.log.write(rec);
  };

  // Client gone before the response finished: stop the dyno's work and free the socket
  // (on Node >= 15.5 http-proxy does not: node-http-proxy#1586).
  res.on('close', () => {
    if (done) return;
    if (res.writableFinished) return finish();
    cancel?.();
    if (!res.headersSent) rec.status = 499;
    finish({ code: 'H27', desc: 'Client Request Interrupted' });
  });
  // Backpressure: the 'drain' listener is added only when a write was refused (rare for small
  // responses), not for every request.
  let draining = false;
  const resume = () => {
    draining = false;
    current?.resume();
  };

  const attempt = () => {
    const b = pool.pick(tried);
    if (!b) {
      done = true; // x.fail writes the log line itself
      return x.fail(ERRORS.appCrashed);
    }
    const release = claim(b);
    rec.dyno = b.dyno;
    let responded = false;
    let length = -1;
    let idleTimer: NodeJS.Timeout | undefined;
    cancel = () => {
      current?.abort();
      clearTimeout(firstByteTimer);
      clearTimeout(idleTimer);
      release();
    };
    const firstByteTimer = setTimeout(() => {
      current?.abort();
      release();
      if (done) return;
      rec.status = ERRORS.timeout.status;
      rec.bytes = sendPage(res, ERRORS.timeout, rec.requestId);
      finish(ERRORS.timeout);
    }, deps.firstByteTimeoutMs);

    const handlers: UpstreamHandlers = {
      onConnect(ms) {
        rec.connectMs = ms;
      },
      onResponse(status, raw) {
        clearTimeout(firstByteTimer);
        responded = true;
        if (done) {
          release();
          return false;
        }
        try {
          const headers = clientResponseHeaders(raw, rec.requestId);
          if (x.route.hsts && rec.protocol === 'https') addHsts(headers);
          res.sendDate = false;
          res.writeHead(status, headers);
        } catch {
          // Invalid characters in a dyno's headers throw here (node-http-proxy#1679): answer 502.
          release();
          rec.status = ERRORS.badResponse.status;
          rec.bytes = sendPage(res, ERRORS.badResponse, rec.requestId);
          finish(ERRORS.badResponse);
          return false;
        }
        rec.status = status;
        length = contentLength(raw);
        idleTimer = setTimeout(() => {
          // H15: a started response idle too long. The client sees a cut connection.
          current?.abort();
          res.destroy();
          release();
          finish({ code: 'H15', desc: 'Idle connection' });
        }, deps.idleTimeoutMs);
        return true;
      },
      onBody(chunk) {
        if (done) return;
        rec.bytes += chunk.length;
        idleTimer!.refresh();
        // A body that arrives whole goes out with its headers in one res.end() (one writev).
        if (rec.bytes === length) res.end(chunk);
        else if (!res.write(chunk)) {
          current?.pause();
          if (!draining) {
            draining = true;
            res.once('drain', resume);
          }
        }
      },
      onEnd() {
        clearTimeout(idleTimer);
        release();
        if (!res.writableEnded) res.end();
      },
      onError(err, connected) {
        clearTimeout(firstByteTimer);
        clearTimeout(idleTimer);
        release();
        if (done) return;
        if (!connected && !responded && CONNECT_ERRORS.has(err.code ?? '')) {
          pool.markRefused(b);
          (tried ??= new Set()).add(b);
          return attempt();
        }
        if (res.headersSent) {
          // The dyno went away mid-response: nothing to tell the client but a cut connection.
          res.destroy();
          return finish({ code: 'H18', desc: 'Server Request Interrupted' });
        }
        const page = err.code?.startsWith('HPE_') ? ERRORS.badResponse : ERRORS.closed;
        rec.status = page.status;
        rec.bytes = sendPage(res, page, rec.requestId);
        finish(page);
      },
    };
    current =
      x.hasBody || !rawPathAvailable
        ? sendWithAgent(pool, b, req, x.headers, handlers)
        : pool.upstream.send(
            b,
            requestHead(req.method ?? 'GET', req.url ?? '/', x.headers),
            req.method === 'HEAD',
            handlers,
            IDEMPOTENT.has(req.method ?? ''),
          );
  };
  attempt();
}
