import * as net from 'node:net';
// Node's own llhttp binding, the parser behind http.request: we drive it directly on pooled
// sockets and skip ClientRequest/IncomingMessage/Agent, which measured as half the router's time.
// It is an internal module: if a Node version changes it, rawPathAvailable turns false and every
// request takes the http.request path instead.
const { HTTPParser } = require('node:_http_common') as { HTTPParser: ParserClass };

export const rawPathAvailable =
  typeof HTTPParser === 'function' &&
  typeof HTTPParser.prototype.initialize === 'function' &&
  [HTTPParser.kOnHeaders, HTTPParser.kOnHeadersComplete, HTTPParser.kOnBody, HTTPParser.kOnMessageComplete].every((k) =>
    Number.isInteger(k),
  ) &&
  Number.isInteger(HTTPParser.RESPONSE);

/**
 * Keep-alive connections to one app's dynos for bodiless requests (GET, HEAD, DELETE... without a
 * body: nearly all traffic). A request is one string write; the response is parsed by llhttp and
 * handed to the caller as status + raw headers + body chunks. Idle connections are closed by a sweep
 * after idleMs (kept below the dynos' 5 s keep-alive, so we never write to a socket the dyno is
 * closing). Requests with a body use the pool's http.Agent instead (proxy-http.ts).
 */
interface Parser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}
interface ParserClass {
  new (): Parser;
  prototype: Parser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

export interface UpstreamHandlers {
  /** Response head; return false when the caller could not forward it (the connection is dropped). */
  onResponse(status: number, rawHeaders: string[]): boolean;
  onBody(chunk: Buffer): void;
  onEnd(): void;
  /** connected: the socket had connected (so the request may have been sent). */
  onError(err: NodeJS.ErrnoException, connected: boolean): void;
  /** Fresh connections only: ms to connect. */
  onConnect?(ms: number): void;
}

export interface UpstreamExchange {
  abort(): void;
  pause(): void;
  resume(): void;
}

interface Conn {
  socket: net.Socket;
  parser: Parser;
  key: string;
  cur: {
    h: UpstreamHandlers;
    head: boolean;
    keepAlive: boolean;
    informational: boolean;
    responded: boolean;
    retry?: () => void;
  } | null;
  headers: string[];
  /** Responses completed on this connection: > 0 means it came from the idle pool. */
  served: number;
  idleSince: number;
  connected: boolean;
}

export interface UpstreamPool {
  /** idempotent: GET/HEAD/OPTIONS, re-sent once on a new connection if a pooled one was stale. */
  send(
    target: { hostname: string; port: number },
    head: string,
    isHead: boolean,
    h: UpstreamHandlers,
    idempotent?: boolean,
  ): UpstreamExchange;
  socketCount(): number;
  /** The app left the table: stop once in-flight exchanges are done and idle sockets swept. */
  retire(): void;
  destroy(): void;
}

export function createUpstreamPool(opts: { idleMs: number }): UpstreamPool {
  const idle = new Map<string, Conn[]>();
  const all = new Set<Conn>();

  let retired = false;
  const release = (c: Conn) => {
    c.cur = null;
    c.socket.resume(); // a paused (backpressured) socket must not go back to the pool paused
    c.idleSince = Date.now();
    let list = idle.get(c.key);
    if (!list) idle.set(c.key, (list = []));
    list.push(c);
  };
  const forget = (c: Conn) => {
    all.delete(c);
    const list = idle.get(c.key);
    const i = list ? list.indexOf(c) : -1;
    if (i !== -1) list!.splice(i, 1);
  };
  const fail = (c: Conn, err: NodeJS.ErrnoException) => {
    const cur = c.cur;
    c.cur = null;
    forget(c);
    c.socket.destroy();
    if (!cur) return;
    // A pooled connection the dyno closed before answering (its keep-alive ran out as we sent):
    // the dyno never processed the request, so an idempotent one is re-sent once on a new
    // connection to the same dyno, as nginx does. Anything else reports the error.
    if (cur.retry && c.served > 0 && !cur.responded && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
      return cur.retry();
    cur.h.onError(err, c.connected);
  };

  const connect = (target: { hostname: string; port: number }, key: string): Conn => {
    const socket = net.connect({ host: target.hostname, port: target.port, noDelay: true });
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, 0, 0);
    const c: Conn = { socket, parser, key, cur: null, headers: [], idleSince: 0, connected: false, served: 0 };
    all.add(c);
    const started = Date.now();
    socket.once('connect', () => {
      c.connected = true;
      c.cur?.h.onConnect?.(Date.now() - started);
    });
    parser[HTTPParser.kOnHeaders] = (headers: string[]) => {
      for (const x of headers) c.headers.push(x);
    };
    parser[HTTPParser.kOnHeadersComplete] = (
      _maj: number,
      _min: number,
      headers: string[] | undefined,
      _m: unknown,
      _u: unknown,
      status: number,
      _msg: unknown,
      upgrade: boolean,
      keepAlive: boolean,
    ) => {
      const raw = headers ?? c.headers;
      c.headers = [];
      const cur = c.cur;
      if (!cur || upgrade) {
        // A response nobody asked for, or an upgrade we never requested: drop the connection.
        setImmediate(() =>
          fail(c, Object.assign(new Error('unexpected response from the dyno'), { code: 'HPE_UNEXPECTED' })),
        );
        return 1;
      }
      if (status >= 100 && status < 200) {
        cur.informational = true; // 100 Continue, 103 Early Hints: wait for the real response
        return 0;
      }
      cur.keepAlive = keepAlive;
      cur.responded = true;
      if (!cur.h.onResponse(status, raw)) {
        setImmediate(() => {
          forget(c);
          socket.destroy();
        });
        c.cur = null;
        return 1;
      }
      return cur.head ? 1 : 0; // 1: no body follows (HEAD)
    };
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
      c.cur?.h.onBody(chunk);
    };
    parser[HTTPParser.kOnMessageComplete] = () => {
      c.headers = []; // trailers (also delivered through kOnHeaders) are not forwarded
      const cur = c.cur;
      if (!cur) return;
      if (cur.informational && !cur.responded) {
        cur.informational = false;
        return;
      }
      c.served++;
      if (cur.keepAlive) release(c);
      else {
        c.cur = null;
        forget(c);
        socket.end();
      }
      cur.h.onEnd();
    };
    socket.on('data', (d: Buffer) => {
      const r = parser.execute(d);
      if (r instanceof Error) fail(c, r as NodeJS.ErrnoException);
    });
    socket.on('end', () => {
      // Close-delimited bodies end here; anything else is the dyno closing on us.
      if (c.cur?.responded) {
        const r = parser.finish();
        if (r instanceof Error) return fail(c, r as NodeJS.ErrnoException);
      }
      if (c.cur) fail(c, Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      else forget(c);
      socket.destroy();
    });
    socket.on('error', (err) => fail(c, err));
    socket.on('close', () => {
      if (c.cur) fail(c, Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }));
      forget(c);
      // Free the native parser once its stack has unwound (what Node's own freeParser does).
      setImmediate(() => parser.close());
    });
    return c;
  };

  const sweep = setInterval(
    () => {
      if (retired && all.size === 0) return clearInterval(sweep);
      const cutoff = Date.now() - opts.idleMs;
      for (const list of idle.values()) {
        while (list.length > 0 && list[0].idleSince < cutoff) {
          const c = list.shift()!;
          all.delete(c);
          c.socket.destroy();
        }
      }
    },
    Math.max(50, Math.min(250, Math.floor(opts.idleMs / 4))),
  );
  sweep.unref();

  return {
    send(target, head, isHead, h, idempotent = false) {
      const key = `${target.hostname}:${target.port}`;
      let c: Conn;
      const start = (fresh: boolean) => {
        c = (fresh ? undefined : idle.get(key)?.pop()) ?? connect(target, key);
        c.cur = {
          h,
          head: isHead,
          keepAlive: false,
          informational: false,
          responded: false,
          retry: idempotent && !fresh ? () => start(true) : undefined,
        };
        if (c.connected) h.onConnect?.(0);
        c.socket.write(head, 'latin1');
      };
      start(false);
      return {
        abort() {
          if (c.cur?.h !== h) return;
          c.cur = null;
          forget(c);
          c.socket.destroy();
        },
        pause: () => c.socket.pause(),
        resume: () => c.socket.resume(),
      };
    },
    socketCount: () => all.size,
    retire() {
      retired = true;
    },
    destroy() {
      clearInterval(sweep);
      for (const c of all) c.socket.destroy();
      all.clear();
      idle.clear();
    },
  };
}

/** The request head for the raw path: request line, headers, blank line. */
export function requestHead(method: string, path: string, headers: string[]): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}
