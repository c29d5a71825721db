/**
 * Frames of an attached one-off dyno session (`slipway run`), server → client, over the hijacked
 * HTTP connection: [kind: 1 byte][length: uint32 BE][payload]. Kinds: 1 stdout, 2 stderr,
 * 3 exit (payload: the exit code in decimal), 4 error (payload: JSON { message, hint }).
 * Client → server is the raw stdin byte stream; the client half-closes the socket at EOF.
 * (Mirrored by server/api/run.ts: cli/ and server/ share no code but common/.)
 */
export const FRAME = { stdout: 1, stderr: 2, exit: 3, error: 4 } as const;

export function createFrameReader(onFrame: (kind: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      onFrame(buf[0], buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
    }
  };
}
