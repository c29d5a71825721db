import { randomUUID } from 'node:crypto';

/**
 * Heroku's HTTP conventions at the edge, on raw header arrays ([name, value, name, value, ...]),
 * which Node accepts in http.request and writeHead: building objects per request costs throughput.
 */

/** Hop-by-hop headers (RFC 9110 7.6.1) plus the legacy ones proxies still see. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

/**
 * Headers the router sets itself or that claim to describe the client; what a client sent under
 * these names is dropped (and X-Forwarded-For/-Proto/-Port set from the connection), so a dyno can
 * trust them: a client cannot pass for 127.0.0.1 or an internal host. Every other X-Forwarded-*
 * name (Host, Server, Ssl, Scheme...) is dropped too (see isForwardedName).
 */
const SET_BY_ROUTER = new Set([
  'x-request-id',
  'x-request-start',
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
]);

/** X-Forwarded-* (any suffix): checked by length and prefix first, so other names cost one compare. */
function isForwardedName(lname: string): boolean {
  return lname.length > 12 && lname.charCodeAt(0) === 120 /* x */ && lname.startsWith('x-forwarded-');
}

const REQUEST_ID_RE = /^[A-Za-z0-9+=/-]{20,200}$/;

/** Heroku keeps a client's X-Request-Id when it is 20 to 200 of [A-Za-z0-9+=/-]; otherwise makes one. */
export function requestIdFrom(sent: string | string[] | undefined): string {
  const v = Array.isArray(sent) ? sent[0] : sent;
  return v !== undefined && REQUEST_ID_RE.test(v) ? v : randomUUID();
}

export function clientAddress(remote: string | undefined): string {
  if (!remote) return '';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}

/** Names listed in Connection headers are hop-by-hop for this message too. */
function connectionTokens(raw: string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toLowerCase() === 'connection') {
      for (const t of raw[i + 1].split(',')) {
        const name = t.trim().toLowerCase();
        if (name) (tokens ??= new Set()).add(name);
      }
    }
  }
  return tokens;
}

export interface ForwardContext {
  clientIp: string;
  proto: 'http' | 'https';
  port: number;
  requestId: string;
  /** Keep Connection/Upgrade (WebSocket handshakes are forwarded as upgrades). */
  upgrade?: boolean;
  /** Host header for the dyno in place of the client's (absolute-form requests). */
  host?: string;
}

/**
 * The request line's target, as nginx treats it: origin-form ("/path") is used as is; an
 * absolute-form target ("http://host/path", RFC 9112 3.2.2) has its authority take the place of
 * the Host header and is forwarded in origin form, so the dyno, the route lookup and the access
 * log all see the same host; anything else ("*" outside OPTIONS, authority-form, other schemes)
 * is refused with 400 ("OPTIONS *" too: no app serves the router's own options). Only called for targets not starting with "/" (the fast path never is).
 */
export function absoluteTarget(url: string): { host: string; path: string } | undefined {
  const m = /^https?:\/\/([^/?#@\s]+)([/?][^#\s]*)?$/i.exec(url);
  if (!m) return undefined;
  const p = m[2] ?? '/';
  return { host: m[1], path: p.startsWith('?') ? `/${p}` : p };
}

/**
 * Request headers for the dyno: hop-by-hop stripped, Host kept (or replaced by ctx.host, the
 * authority of an absolute-form request), X-Forwarded-* set from the connection, X-Request-Id, Via.
 */
export function upstreamRequestHeaders(raw: string[], ctx: ForwardContext): string[] {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  let via: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lname = name.toLowerCase();
    if (HOP_BY_HOP.has(lname) || SET_BY_ROUTER.has(lname) || isForwardedName(lname) || tokens?.has(lname)) continue;
    if (ctx.host !== undefined && lname === 'host') continue;
    if (lname === 'via') {
      via = via === undefined ? raw[i + 1] : `${via}, ${raw[i + 1]}`;
      continue;
    }
    out.push(name, raw[i + 1]);
  }
  if (ctx.host !== undefined) out.push('Host', ctx.host);
  if (ctx.upgrade) out.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
  out.push(
    'X-Forwarded-For',
    ctx.clientIp,
    'X-Forwarded-Proto',
    ctx.proto,
    'X-Forwarded-Port',
    String(ctx.port),
    'X-Request-Id',
    ctx.requestId,
    'X-Request-Start',
    String(Date.now()),
    'Via',
    via ? `${via}, 1.1 slipway` : '1.1 slipway',
  );
  return out;
}

/**
 * Response headers for the client: hop-by-hop stripped, the request id and Via added, Date kept
 * from the dyno (the caller turns Node's own Date off) or added when the dyno sent none.
 */
export function clientResponseHeaders(raw: string[], requestId: string): string[] {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  let hasId = false;
  let hasDate = false;
  let via: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lname = name.toLowerCase();
    if (HOP_BY_HOP.has(lname) || tokens?.has(lname)) continue;
    if (lname === 'via') {
      via = via === undefined ? raw[i + 1] : `${via}, ${raw[i + 1]}`;
      continue;
    }
    if (lname === 'x-request-id') hasId = true;
    else if (lname === 'date') hasDate = true;
    out.push(name, raw[i + 1]);
  }
  if (!hasId) out.push('X-Request-Id', requestId);
  if (!hasDate) out.push('Date', new Date().toUTCString());
  out.push('Via', via ? `${via}, 1.1 slipway` : '1.1 slipway');
  return out;
}
