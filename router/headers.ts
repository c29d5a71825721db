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

/** Headers the router sets itself; what a client sent under these names is replaced. */
const SET_BY_ROUTER = new Set(['x-forwarded-proto', 'x-forwarded-port', 'x-request-id', 'x-request-start']);

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
}

/** Request headers for the dyno: hop-by-hop stripped, Host kept, X-Forwarded-*, X-Request-Id, Via. */
export function upstreamRequestHeaders(raw: string[], ctx: ForwardContext): string[] {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  let xff: string | undefined;
  let via: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lname = name.toLowerCase();
    if (HOP_BY_HOP.has(lname) || SET_BY_ROUTER.has(lname) || tokens?.has(lname)) continue;
    if (lname === 'x-forwarded-for') {
      xff = xff === undefined ? raw[i + 1] : `${xff}, ${raw[i + 1]}`;
      continue;
    }
    if (lname === 'via') {
      via = via === undefined ? raw[i + 1] : `${via}, ${raw[i + 1]}`;
      continue;
    }
    out.push(name, raw[i + 1]);
  }
  if (ctx.upgrade) out.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
  out.push(
    'X-Forwarded-For', xff ? `${xff}, ${ctx.clientIp}` : ctx.clientIp,
    'X-Forwarded-Proto', ctx.proto,
    'X-Forwarded-Port', String(ctx.port),
    'X-Request-Id', ctx.requestId,
    'X-Request-Start', String(Date.now()),
    'Via', via ? `${via}, 1.1 slipway` : '1.1 slipway',
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
