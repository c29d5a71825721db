import * as fs from 'node:fs';

/**
 * A build's log: every line goes to builds/ID/build.log (written synchronously, so the file is
 * complete up to the byte count we report) and to live followers (`slipway builds:output` of a
 * running build). A follower first reads the file up to `bytes`, then gets every later line.
 */
export interface BuildLog {
  readonly file: string;
  write(line: string): void;
  /** Follow from here on. Returns the byte offset already in the file, and an unsubscribe function. */
  follow(onLine: (line: string) => void, onEnd: () => void): { bytes: number; stop: () => void };
  close(): void;
  readonly closed: boolean;
}

export function createBuildLog(file: string): BuildLog {
  const fd = fs.openSync(file, 'a', 0o640);
  let bytes = fs.fstatSync(fd).size;
  let closed = false;
  const followers = new Set<{ onLine: (l: string) => void; onEnd: () => void }>();
  return {
    file,
    get closed() {
      return closed;
    },
    write(line) {
      if (closed) return;
      const buf = Buffer.from(`${line}\n`);
      try {
        fs.writeSync(fd, buf);
        bytes += buf.length;
      } catch {
        // A full disk must not fail the build's bookkeeping; followers still get the line.
      }
      for (const f of followers) f.onLine(line);
    },
    follow(onLine, onEnd) {
      if (closed) {
        onEnd();
        return { bytes, stop: () => undefined };
      }
      const f = { onLine, onEnd };
      followers.add(f);
      return { bytes, stop: () => followers.delete(f) };
    },
    close() {
      if (closed) return;
      closed = true;
      fs.closeSync(fd);
      for (const f of followers) f.onEnd();
      followers.clear();
    },
  };
}
