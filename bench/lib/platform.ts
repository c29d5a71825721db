import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../../test/helpers/server';

const run = promisify(execFile);

/**
 * Slipway's side of the platform benchmarks: a real slipway-server and slipway-router (the test
 * helper's startTestServer: temp SLIPWAY_HOME with the stack images, free loopback ports, admin
 * token), apps created through the API and deployed with a real `git push` over HTTP, and the
 * router asked by Host header, exactly as a user's browser would.
 */
export const EXPRESS_DIR = path.resolve(__dirname, '..', '..', '..', 'bench', 'apps', 'express');
export const TINY_DIR = path.resolve(__dirname, '..', '..', '..', 'bench', 'apps', 'tiny');

export interface BenchPlatform {
  server: TestServer;
  host(app: string): string;
  api<T = unknown>(method: string, pathName: string, body?: unknown): Promise<T>;
  createApp(name: string): Promise<void>;
  /** A git work tree for APP with SRC's files committed on main; returns its directory. */
  initRepo(app: string, srcDir: string): Promise<string>;
  commitAll(repo: string, message: string): Promise<void>;
  push(repo: string, app: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startBenchPlatform(opts: { env?: Record<string, string> } = {}): Promise<BenchPlatform> {
  const server = await startTestServer({ router: true, env: { SLIPWAY_DOMAIN: 'localhost', ...opts.env } });
  const work = path.join(server.home, 'bench-work');
  fs.mkdirSync(work, { recursive: true });
  const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: work };
  const git = (cwd: string, ...args: string[]) =>
    run('git', ['-c', 'user.email=bench@example.com', '-c', 'user.name=Bench', ...args], {
      cwd,
      env: gitEnv,
      maxBuffer: 64 << 20,
      timeout: 15 * 60_000,
    });

  const api = async <T>(method: string, pathName: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}/api${pathName}`, {
      method,
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${pathName}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  return {
    server,
    host: (app) => `${app}.localhost`,
    api,
    createApp: async (name) => {
      await api('POST', '/apps', { name });
    },
    initRepo: async (app, srcDir) => {
      const repo = path.join(work, app);
      fs.rmSync(repo, { recursive: true, force: true });
      fs.cpSync(srcDir, repo, { recursive: true, filter: (p) => !/node_modules|package(-lock)?\.deps\.json$/.test(p) });
      await git(repo, 'init', '-q', '-b', 'main');
      await git(repo, 'add', '.');
      await git(repo, 'commit', '-q', '-m', 'initial');
      return repo;
    },
    commitAll: async (repo, message) => {
      await git(repo, 'commit', '-q', '-am', message);
    },
    push: async (repo, app) => {
      // The token as the Basic password (docs/git-push.md); the URL never leaves this machine.
      const url = `http://bench:${server.token}@127.0.0.1:${server.apiPort}/${app}.git`;
      const out = await git(repo, 'push', '-q', url, 'HEAD:main').catch(
        (err: { stdout?: string; stderr?: string; message: string }) => {
          throw new Error(`git push ${app} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
        },
      );
      return out.stdout + out.stderr;
    },
    stop: () => server.stop(),
  };
}

/** One GET with a Host header; status 0 on a connection error. */
export function get(port: number, host: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * Polls every 50 ms until a 200 whose body differs from `previous` (the app prints its pid and
 * start time, so a new process answers a new body). Resolves with the body.
 */
export async function waitForNew200(
  port: number,
  host: string,
  previous: string | undefined,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = { status: 0, body: '' };
  while (Date.now() < deadline) {
    last = await get(port, host, 2000);
    if (last.status === 200 && last.body !== previous) return last.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `no new 200 from ${host} on port ${port} within ${timeoutMs} ms (last: ${last.status} ${last.body.slice(0, 200)})`,
  );
}

/** Edits the MARKER line of the Express app or the $message line of the tiny app: one line changed. */
export function editOneLine(repo: string, n: number): void {
  for (const [file, re, line] of [
    ['server.js', /const message = .*;/, `const message = 'hello from slipway bench, edit ${n}';`],
    ['web.pl', /my \$message = .*;/, `my $message = 'hello from the tiny slipway bench app, edit ${n}';`],
  ] as const) {
    const p = path.join(repo, file);
    if (fs.existsSync(p)) fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace(re, line));
  }
}

/** Resident set size of a process in MiB, from /proc/PID/status VmRSS. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 102.4) / 10;
}

export function loadavg(): number {
  return Math.round(require('node:os').loadavg()[0] * 100) / 100;
}
