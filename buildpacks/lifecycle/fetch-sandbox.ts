import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FetchWorkerJob, FetchWorkerResult } from './fetch-worker';

/**
 * Buildpack fetches never run as root. The network work of a fetch (git clone, the HTTP request
 * of an archive) parses what a hostile server sends, so when the server runs as root it runs in a
 * child process under FETCH_UID, an id no account and no other process uses (no passwd entry is
 * needed). That process can write only its own staging directory; its result is then made
 * root's (lchown, links never followed) before the server reads or moves it, so nothing the
 * fetch left can change under the server afterwards. The address checks stay in the server
 * (url-guard.ts): the child connects only to the address it is handed.
 */
export const FETCH_UID = 65_531;

export interface FetchIdentity {
  uid: number;
  gid: number;
}

/** The identity fetches run as: FETCH_UID when the server is root, else the server's own. */
export function fetchIdentity(): FetchIdentity | null {
  return typeof process.getuid === 'function' && process.getuid() === 0 ? { uid: FETCH_UID, gid: FETCH_UID } : null;
}

/** A fresh, private staging directory the fetch identity owns. */
export function makeStaging(id: FetchIdentity | null): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-fetch-'));
  fs.chmodSync(dir, 0o700);
  if (id) fs.chownSync(dir, id.uid, id.gid);
  return dir;
}

/** Makes a tree the fetch wrote root's (never following a link), so it is fixed from now on. */
export function adoptTree(dir: string, id: FetchIdentity | null): void {
  if (!id) return;
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    fs.lchownSync(p, 0, 0);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
}

/**
 * Moves a tree (already adopted) to `to`: a rename, or across file systems a copy that recreates
 * links as links and copies only directories and regular files.
 */
export function moveTree(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  }
  const copy = (src: string, dst: string) => {
    const st = fs.lstatSync(src);
    if (st.isDirectory()) {
      fs.mkdirSync(dst, { mode: st.mode & 0o755 });
      for (const e of fs.readdirSync(src)) copy(path.join(src, e), path.join(dst, e));
    } else if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
    else if (st.isFile()) fs.copyFileSync(src, dst, fs.constants.COPYFILE_EXCL);
  };
  copy(from, to);
  fs.rmSync(from, { recursive: true, force: true });
}

/** Runs a command as the fetch identity (execFile: no shell), with a hard time limit. */
export function runAs(
  id: FetchIdentity | null,
  file: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number },
): Promise<{ stdout: string; stderr: string; error: (Error & { killed?: boolean }) | null }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: opts.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 1024 * 1024,
        ...(id ? { uid: id.uid, gid: id.gid } : {}),
      },
      (error, stdout, stderr) => resolve({ stdout: String(stdout), stderr: String(stderr), error }),
    );
  });
}

let workerSource: string | undefined;

/** One HTTP request of a download, in fetch-worker.ts under the fetch identity. */
export async function runFetchWorker(id: FetchIdentity | null, job: FetchWorkerJob): Promise<FetchWorkerResult> {
  // Passed as text (node -e): the fetch identity may not be able to read the installation's files.
  workerSource ??= fs.readFileSync(path.join(__dirname, 'fetch-worker.js'), 'utf8');
  const env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', LC_ALL: 'C' };
  // Fetches trust the host's CA bundle (with any extra CA), as an operator behind a proxy needs.
  if (process.env.NODE_EXTRA_CA_CERTS) env.NODE_EXTRA_CA_CERTS = process.env.NODE_EXTRA_CA_CERTS;
  const r = await runAs(id, process.execPath, ['-e', workerSource, JSON.stringify(job)], {
    env,
    cwd: path.dirname(job.out),
    timeoutMs: job.timeoutMs + 5_000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as FetchWorkerResult;
  } catch {
    const why = r.error?.killed ? 'the download took too long' : (r.stderr.trim().split('\n').pop() ?? 'no answer');
    return { kind: 'error', message: why.slice(0, 300) };
  }
}
