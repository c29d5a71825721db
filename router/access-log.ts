import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger } from '../common/logger';

const log = createLogger('slipway-router');

/**
 * The access log: one line per request, `<ISO time> <app> <Heroku router line>`
 * (docs/architecture.md, "Router access log"). The server's log hub tails the file and shows the
 * lines as source "router". Lines are batched (one write every 50 ms or 64 KiB, not one per
 * request: each file write is a round trip through libuv's thread pool) and the file is rotated by
 * size to FILE.1 (one generation kept).
 */
export interface AccessRecord {
  app: string;
  at: 'info' | 'error';
  code?: string;
  desc?: string;
  method: string;
  path: string;
  host: string;
  requestId: string;
  fwd: string;
  dyno: string;
  connectMs: number;
  serviceMs: number;
  status: number;
  bytes: number;
  protocol: 'http' | 'https';
}

const NEEDS_QUOTING = /["\\\x00-\x1f\x7f]/;
const NOT_BARE = /[^A-Za-z0-9.:_\-[\]]/;

/** Quotes a value for a key="value" field: no quotes, backslashes or control characters survive. */
function quoted(s: string): string {
  const clean = s.length > 2048 ? s.slice(0, 2048) : s;
  // Nearly every value needs no escaping: one test instead of a replace with a callback.
  if (!NEEDS_QUOTING.test(clean)) return `"${clean}"`;
  return `"${clean.replace(/["\\\x00-\x1f\x7f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)}"`;
}

function bare(s: string): string {
  if (s.length > 0 && s.length <= 255 && !NOT_BARE.test(s)) return s;
  return s.replace(/[^A-Za-z0-9.:_\-[\]]/g, '_').slice(0, 255) || '-';
}

/** The line's time: one toISOString per millisecond, not per request. */
let isoMs = 0;
let isoText = '';
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

export function formatRouterLine(r: AccessRecord): string {
  const head = r.at === 'error' || r.code ? `at=${r.at} code=${r.code} desc=${quoted(r.desc ?? '')} ` : 'at=info ';
  return (
    `${head}method=${bare(r.method)} path=${quoted(r.path)} host=${bare(r.host)} request_id=${bare(r.requestId)} ` +
    `fwd=${quoted(r.fwd)} dyno=${bare(r.dyno)} connect=${Math.max(0, Math.round(r.connectMs))}ms ` +
    `service=${Math.max(0, Math.round(r.serviceMs))}ms status=${r.status} bytes=${r.bytes} protocol=${r.protocol}`
  );
}

export interface AccessLog {
  write(r: AccessRecord): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * rotate: this writer renames the file past maxBytes (one writer per file does: with several
 * router processes only the first rotates). Every writer appends with O_APPEND, whole lines per
 * write (one write per batch, so lines of different processes never interleave), and checks the
 * path's inode before each batch: after another process rotated, it reopens the path rather than
 * keep appending to FILE.1.
 */
export function createAccessLog(opts: {
  file: string;
  maxBytes: number;
  rotate?: boolean;
  echo?: (line: string) => void;
}): AccessLog {
  fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  const rotates = opts.rotate !== false;
  let stream!: fs.WriteStream;
  let ino = -1;
  const open = () => {
    const fd = fs.openSync(opts.file, 'a');
    ino = fs.fstatSync(fd).ino;
    stream = fs.createWriteStream(opts.file, { fd, flags: 'a' });
    stream.on('error', (err) => log.error(`access log: ${err.message}`));
  };
  open();
  let pending: string[] = [];
  let pendingBytes = 0;
  let scheduled = false;

  const reopen = () => {
    stream.end();
    open();
  };

  const rotate = () => {
    try {
      fs.renameSync(opts.file, `${opts.file}.1`);
    } catch (err) {
      log.error(`access log rotation: ${(err as Error).message}`);
    }
    reopen();
  };

  const flushNow = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    pendingBytes = 0;
    // One stat per batch (at most every 50 ms): the file's real size with every writer counted,
    // and its inode, which changes when a rotation (ours, another process's, logrotate's) moved it.
    let size = 0;
    try {
      const st = fs.statSync(opts.file);
      if (st.ino !== ino) reopen();
      else size = st.size;
    } catch {
      reopen(); // removed: start a new file
    }
    if (rotates && size >= opts.maxBytes) rotate();
    stream.write(chunk);
  };
  return {
    write(r) {
      const line = `${isoNow()} ${r.app} ${formatRouterLine(r)}\n`;
      pending.push(line);
      opts.echo?.(line);
      pendingBytes += line.length;
      if (pendingBytes >= 64 * 1024) flushNow();
      else if (!scheduled) {
        scheduled = true;
        setTimeout(flushNow, 50).unref();
      }
    },
    async flush() {
      flushNow();
      await new Promise<void>((resolve) => stream.write('', () => resolve()));
    },
    async close() {
      flushNow();
      await new Promise<void>((resolve) => stream.end(() => resolve()));
    },
  };
}
