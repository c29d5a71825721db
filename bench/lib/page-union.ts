import * as fs from 'node:fs';

/**
 * Resident memory of several processes together, each physical page once (MiB), from
 * /proc/PID/maps and /proc/PID/pagemap: the page frame numbers of every present page, in a set.
 * VmRSS added over processes counts the pages they share (the node binary's code and read-only
 * data, ~40 MiB in each of slipway-server and slipway-router, the C libraries) once per process;
 * this counts what the machine really gives them. Page frame numbers are only shown to root
 * (CAP_SYS_ADMIN): otherwise, or when a file cannot be read, the answer is null.
 */
export function residentTogetherMiB(pids: number[]): number | null {
  const frames = new Set<number>();
  const buf = Buffer.alloc(8 * 4096);
  try {
    for (const pid of pids) {
      const fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
      try {
        for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
          const m = /^([0-9a-f]+)-([0-9a-f]+)/.exec(line);
          if (!m || line.endsWith('[vsyscall]')) continue;
          const first = Number.parseInt(m[1], 16) / 4096;
          const end = Number.parseInt(m[2], 16) / 4096;
          for (let page = first; page < end; page += 4096) {
            const n = Math.min(4096, end - page);
            const got = fs.readSync(fd, buf, 0, n * 8, page * 8);
            for (let i = 0; i + 8 <= got; i += 8) {
              const entry = buf.readBigUInt64LE(i);
              if (!(entry >> 63n)) continue; // not present (swapped or never touched)
              const pfn = Number(entry & ((1n << 55n) - 1n));
              if (pfn === 0) return null; // frame numbers hidden: not root
              frames.add(pfn);
            }
          }
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  } catch {
    return null;
  }
  return Math.round((frames.size * 4096) / 104857.6) / 10;
}
