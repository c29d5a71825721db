import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DIST, type TestServer } from '../helpers/server';
import { getVia, git, gitUrl, makeRepo } from './git-helpers';
import { waitFor } from '../helpers/wait';

/** Shared by the dockerfile*.test.ts files: repositories with a Dockerfile, the real CLI, answers through the router. */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
export const PERL_FIXTURE = path.resolve(DIST, '..', 'test', 'fixtures', 'apps', 'dockerfile-perl');

export async function dockerRepo(files: Record<string, string>, dirs: string[]): Promise<string> {
  const dir = await makeRepo(files, PERL_FIXTURE);
  dirs.push(dir);
  return dir;
}

/** The real CLI; `killed`: it did not exit by itself (the exec guard stopped it). */
export async function cli(
  srv: TestServer,
  args: string[],
  cwd?: string,
): Promise<{ code: number; out: string; killed: boolean }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env: srv.cliEnv(), cwd, timeout: 300_000 });
    return { code: 0, out: r.stdout + r.stderr, killed: false };
  } catch (err) {
    const x = err as { code?: number; stdout?: string; stderr?: string; killed?: boolean };
    return {
      code: typeof x.code === 'number' ? x.code : 1,
      out: (x.stdout ?? '') + (x.stderr ?? ''),
      killed: !!x.killed,
    };
  }
}

export async function cliOk(srv: TestServer, args: string[], cwd?: string): Promise<string> {
  const r = await cli(srv, args, cwd);
  assert.equal(r.code, 0, `slipway ${args.join(' ')} failed (${r.code}): ${r.out}`);
  return r.out;
}

export async function push(srv: TestServer, app: string, dir: string): Promise<{ code: number; out: string }> {
  const r = await git(['push', '-f', gitUrl(srv, app), 'HEAD:main'], dir, 600_000);
  return { code: r.code, out: r.stderr };
}

/** The app's answer through the router, waiting until it contains `want`. */
export async function answer(srv: TestServer, app: string, want: string | RegExp, timeoutMs = 30_000): Promise<string> {
  let last = '';
  return waitFor(
    `${app} answering with ${want} through the router`,
    async () => {
      const r = await getVia(srv.httpPort, `${app}.localhost`);
      last = `${r.status} ${r.body.slice(0, 300)}`;
      return r.status === 200 && (typeof want === 'string' ? r.body.includes(want) : want.test(r.body))
        ? r.body
        : undefined;
    },
    { timeoutMs, intervalMs: 250, context: () => `last answer: ${last}` },
  );
}

export function blobCount(srv: TestServer): number {
  return fs.readdirSync(path.join(srv.paths.images, 'blobs', 'sha256')).length;
}

/**
 * A steady load through the router (paced by the clock, as runtime-zero-downtime.test.ts does):
 * `rps` requests per second until stop(); every non-200 answer or error is a failure.
 */
export function steadyLoad(port: number, host: string, rps: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const failures: string[] = [];
  const bodies = new Map<string, number>();
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  const t0 = Date.now();
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) failures.push(`HTTP ${res.statusCode}: ${body.slice(0, 120)}`);
          else bodies.set(body.split(' ')[0], (bodies.get(body.split(' ')[0]) ?? 0) + 1);
          resolve();
        });
        res.on('error', (e) => (failures.push(e.message), resolve()));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => (failures.push(e.message), resolve()));
    });
  const timer = setInterval(() => {
    while (sent < ((Date.now() - t0) / 1000) * rps) {
      sent++;
      const p = one();
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
  }, 5);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...inflight]);
      agent.destroy();
      return { sent, failures, bodies };
    },
  };
}
