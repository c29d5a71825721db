/**
 * The one HTTP request of a buildpack archive download, run in a child process under an
 * unprivileged uid (fetch-sandbox.ts): the response of a hostile server is parsed there, never by
 * the root server. It connects only to the address the parent checked (pinned lookup), follows no
 * redirect itself (it reports the Location and the parent checks the next hop), stops at the byte
 * cap, and prints exactly one JSON line: {kind: 'ok', bytes} | {kind: 'redirect', location} |
 * {kind: 'too-big'} | {kind: 'error', message}.
 *
 * The parent runs this file's compiled text with `node -e` (the unprivileged uid may not be able
 * to read the installation's directory), so it may import node built-ins only.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

export interface FetchWorkerJob {
  url: string;
  address: string;
  family: 4 | 6;
  maxBytes: number;
  timeoutMs: number;
  /** The file to write the body to (created, never replaced). */
  out: string;
}

export type FetchWorkerResult =
  | { kind: 'ok'; bytes: number }
  | { kind: 'redirect'; location: string; status: number }
  | { kind: 'too-big' }
  | { kind: 'error'; message: string };

function runJob(job: FetchWorkerJob, done: (r: FetchWorkerResult) => void): void {
  const url = new URL(job.url);
  const mod = url.protocol === 'https:' ? https : http;
  const signal = AbortSignal.timeout(job.timeoutMs);
  const req = mod.get(
    url,
    {
      signal,
      headers: { 'user-agent': 'slipway-buildpack-fetch' },
      lookup: ((_host: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
        o?.all
          ? cb(null, [{ address: job.address, family: job.family }])
          : cb(null, job.address, job.family)) as unknown as typeof import('node:dns').lookup,
    },
    (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        return done({ kind: 'redirect', location: res.headers.location, status });
      }
      if (status !== 200) {
        res.resume();
        return done({ kind: 'error', message: `HTTP ${status} ${res.statusMessage ?? ''}`.trim() });
      }
      if (Number(res.headers['content-length']) > job.maxBytes) {
        res.destroy();
        return done({ kind: 'too-big' });
      }
      const file = fs.createWriteStream(job.out, { flags: 'wx', mode: 0o600 });
      let got = 0;
      res.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got > job.maxBytes) {
          res.destroy();
          file.destroy();
          done({ kind: 'too-big' });
        }
      });
      res.pipe(file);
      res.on('error', (err) => done({ kind: 'error', message: err.message }));
      file.on('error', (err) => done({ kind: 'error', message: err.message }));
      file.on('finish', () => {
        if (got <= job.maxBytes) done({ kind: 'ok', bytes: got });
      });
    },
  );
  req.on('error', (err) =>
    done({
      kind: 'error',
      message: signal.aborted ? `no complete answer within ${Math.round(job.timeoutMs / 1000)} s` : err.message,
    }),
  );
}

// Run as a script (node -e, with the job as JSON in argv): answer once, then exit.
if (typeof process.argv[1] === 'string' && process.argv[1].startsWith('{"url"')) {
  let answered = false;
  runJob(JSON.parse(process.argv[1]) as FetchWorkerJob, (r) => {
    if (answered) return;
    answered = true;
    process.stdout.write(`${JSON.stringify(r)}\n`, () => process.exit(0));
  });
}
