import { waitFor } from '../helpers/wait';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import * as path from 'node:path';

/**
 * Test harness for the router: the real `slipway-router` process (dist/router/main.js) on
 * ephemeral ports, real backends on 127.0.0.1:0, route files written the way the server writes
 * them (temp + rename), and helpers to read the access log and count the router's open sockets.
 */
const MAIN = path.resolve(__dirname, '../../router/main.js');

export interface RouterProc {
  pid: number;
  httpPort: number;
  httpsPort: number;
  output(): string;
  stop(): Promise<void>;
}

export async function startRouterProcess(home: string, env: Record<string, string> = {}): Promise<RouterProc> {
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SLIPWAY_HOME: home,
      SLIPWAY_DOMAIN: 'localhost',
      SLIPWAY_HTTP_PORT: '0',
      SLIPWAY_HTTPS_PORT: '0',
      SLIPWAY_BIND: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const ports = await new Promise<{ http: number; https: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`router did not start:\n${out}`)), 20_000);
    const check = () => {
      const m = /listening http=[^:]+:(\d+) https=(?:[^:]+:(\d+)|off)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ http: Number(m[1]), https: Number(m[2] ?? 0) });
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`router exited (${code}):\n${out}`));
    });
  });
  return {
    pid: child.pid!,
    httpPort: ports.http,
    httpsPort: ports.https,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

let generation = 0;

export interface AppSpec {
  hosts: string[];
  backends: Array<{ dyno: string; url: string; release?: number }>;
  maintenance?: boolean;
  httpsOnly?: boolean;
  webQuantity?: number;
}

export function writeRoutes(home: string, apps: Record<string, AppSpec>, certificates: unknown[] = []): string {
  const file = path.join(home, 'run', 'routes.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const doc = {
    version: 1,
    generatedAt: `${new Date().toISOString()}#${++generation}`,
    apps: Object.fromEntries(
      Object.entries(apps).map(([name, a]) => [
        name,
        {
          hosts: a.hosts,
          maintenance: a.maintenance ?? false,
          httpsOnly: a.httpsOnly ?? false,
          webQuantity: a.webQuantity ?? a.backends.length,
          backends: a.backends.map((b) => ({ release: 1, ...b })),
        },
      ]),
    ),
    certificates,
  };
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(doc));
  fs.renameSync(tmp, file);
  return doc.generatedAt;
}

/** Resolves once the router serves the table written at generatedAt. */
export async function routesApplied(port: number, generatedAt: string, timeoutMs = 2000): Promise<void> {
  await waitFor('router did not load the new routes', async () => (await health(port)).generatedAt === generatedAt, {
    timeoutMs: timeoutMs,
  });
}

export interface Backend {
  name: string;
  port: number;
  url: string;
  server: http.Server;
  hits: number;
  close(): Promise<void>;
}

/** A dyno stand-in: answers JSON with its name, the request line and headers it received. */
export async function startBackend(name: string, handler?: http.RequestListener): Promise<Backend> {
  const b = { name, hits: 0 } as Backend;
  const server = http.createServer((req, res) => {
    b.hits++;
    if (handler) return handler(req, res);
    const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'X-Dyno': name,
      Connection: 'keep-alive, X-Secret-Hop',
      'X-Secret-Hop': 'strip-me',
    });
    res.end(body);
  });
  server.on('upgrade', (req, socket: Socket) => acceptWebSocket(req, socket));
  // Upgraded sockets are not closed by closeAllConnections(): track them to end the test cleanly.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  b.server = server;
  b.port = (server.address() as { port: number }).port;
  b.url = `http://127.0.0.1:${b.port}`;
  b.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
    });
  return b;
}

/** Minimal WebSocket echo (RFC 6455: handshake and short unfragmented frames), enough for tests. */
function acceptWebSocket(req: http.IncomingMessage, socket: Socket): void {
  socket.on('error', () => socket.destroy());
  socket.on('end', () => socket.end());
  const key = String(req.headers['sec-websocket-key']);
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  socket.on('data', (buf: Buffer) => {
    const text = decodeFrame(buf);
    if (text !== undefined) socket.write(encodeFrame(`echo:${text}`, false));
  });
}

export function encodeFrame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('test frames stay short');
  const head = Buffer.from([0x81, (mask ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([head, payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([head, key, payload.map((b, i) => b ^ key[i % 4])]);
}

export function decodeFrame(buf: Buffer): string | undefined {
  if (buf.length < 2 || (buf[0] & 0x0f) !== 1) return undefined;
  const masked = (buf[1] & 0x80) !== 0;
  const len = buf[1] & 0x7f;
  const start = masked ? 6 : 2;
  const payload = buf.subarray(start, start + len);
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[2 + (i % 4)];
  return payload.toString();
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function get(
  port: number,
  host: string,
  urlPath = '/',
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method, headers: { Host: host, ...headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export function accessLog(home: string): string[] {
  const file = path.join(home, 'log', 'router-access.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Waits until the access log has a line matching re (the router flushes every 50 ms). */
export { waitFor };

export async function waitForLog(home: string, re: RegExp, timeoutMs = 3000): Promise<string> {
  return waitFor(`no access-log line matching ${re}`, () => accessLog(home).find((l) => re.test(l)), {
    timeoutMs: timeoutMs,
  });
}

/** A process and its descendants (the router's primary and its workers), from /proc (Linux). */
export function processTree(pid: number): number[] {
  let kids: number[] = [];
  try {
    kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // exited
  }
  return [pid, ...kids.flatMap(processTree)];
}

/**
 * Open sockets of a process and its children (router workers), from /proc (Linux): what "no
 * leaked sockets" is measured with.
 */
export function socketCount(pid: number): number {
  let n = 0;
  for (const p of processTree(pid)) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${p}/fd/${fd}`).startsWith('socket:')) n++;
      } catch {
        // closed while we looked
      }
    }
  }
  return n;
}

export async function health(port: number): Promise<Record<string, number | string>> {
  const r = await get(port, 'slipway-router', '/healthz');
  return JSON.parse(r.body) as Record<string, number | string>;
}
