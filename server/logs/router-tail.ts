import * as fs from 'node:fs';
import { createLogger } from '../../common/logger';

const log = createLogger('slipway-server');

/**
 * Follows log/router-access.log, written by the router (one line per request:
 * `<ISO time> <app> <Heroku router line>`), and hands each complete line to onLine. Polls (a stat
 * per interval) rather than fs.watch: it keeps working across the router's size rotation and on
 * file systems without inotify. The read offset is saved, so lines the router wrote while the
 * server was down are delivered after a restart.
 */
export function createRouterLogTail(opts: {
  file: string;
  offsetFile: string;
  pollMs: number;
  onLine(app: string, time: Date, line: string): void;
}): { stop(): void; poll(): void } {
  let { ino, offset } = loadOffset(opts.offsetFile);
  let partial = '';
  const MAX_CATCH_UP = 1 << 20;

  function poll(): void {
    let st: fs.Stats;
    try {
      st = fs.statSync(opts.file);
    } catch {
      return; // not written yet
    }
    if (st.ino !== ino) {
      // Rotated (the router renames the file to FILE.1): finish the old generation first.
      if (ino !== 0) drainRotated();
      // First sight of a file without a saved offset: only the recent part.
      offset = ino === 0 ? Math.max(0, st.size - MAX_CATCH_UP) : 0;
      ino = st.ino;
      partial = '';
    } else if (st.size < offset) {
      offset = 0; // truncated in place
      partial = '';
    }
    if (st.size <= offset) return;
    offset = readFrom(opts.file, offset, st.size);
    saveOffset(opts.offsetFile, ino, offset - Buffer.byteLength(partial));
  }

  function readFrom(file: string, from: number, to: number): number {
    const fd = fs.openSync(file, 'r');
    try {
      while (from < to) {
        const buf = Buffer.alloc(Math.min(to - from, 256 * 1024));
        const n = fs.readSync(fd, buf, 0, buf.length, from);
        if (n <= 0) break;
        from += n;
        const lines = (partial + buf.subarray(0, n).toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) deliver(l);
      }
    } finally {
      fs.closeSync(fd);
    }
    return from;
  }

  function drainRotated(): void {
    try {
      const old = fs.statSync(`${opts.file}.1`);
      if (old.ino === ino && old.size > offset) readFrom(`${opts.file}.1`, offset, old.size);
    } catch {
      // no previous generation kept
    }
    if (partial) deliver(partial);
    partial = '';
  }

  function deliver(l: string): void {
    const m = /^(\S+) (\S+) (.*)$/.exec(l);
    if (!m) return;
    const time = new Date(m[1]);
    opts.onLine(m[2], Number.isNaN(time.getTime()) ? new Date() : time, m[3]);
  }

  const timer = setInterval(() => {
    try {
      poll();
    } catch (err) {
      log.error(`reading the router access log failed: ${(err as Error).message}`);
    }
  }, opts.pollMs);
  timer.unref();
  return { stop: () => clearInterval(timer), poll };
}

function loadOffset(file: string): { ino: number; offset: number } {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { ino: number; offset: number };
    if (Number.isInteger(j.ino) && Number.isInteger(j.offset)) return j;
  } catch {
    // none saved yet
  }
  return { ino: 0, offset: 0 };
}

function saveOffset(file: string, ino: number, offset: number): void {
  try {
    fs.writeFileSync(file, JSON.stringify({ ino, offset }));
  } catch {
    // best effort: at worst a few lines are delivered twice after a restart
  }
}
