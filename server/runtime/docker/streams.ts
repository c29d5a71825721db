import type { Readable } from 'node:stream';

/** Calls onLine for each complete line of a stream (and the last partial one at its end). */
export function splitLines(stream: Readable, onLine: (line: string) => void): void {
  let rest = '';
  stream.on('data', (d: Buffer | string) => {
    rest += d.toString();
    let i: number;
    while ((i = rest.indexOf('\n')) >= 0) {
      onLine(rest.slice(0, i).replace(/\r$/, ''));
      rest = rest.slice(i + 1);
    }
    // A runaway line without newline must not grow forever.
    if (rest.length > 64 * 1024) {
      onLine(rest);
      rest = '';
    }
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
}

/**
 * Docker's multiplexed log format (non-TTY containers): frames of an 8-byte header
 * (stream, 0, 0, 0, big-endian length) followed by the payload. Returns the payloads joined.
 */
export function demuxBuffer(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    if (kind > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) return buf.toString('utf8');
    const len = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return Buffer.concat(parts).toString('utf8');
}
