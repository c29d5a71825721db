import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIST, type TestServer } from '../helpers/server';

/** Shared by the git-*.test.ts files: the real git CLI against a real server. */

export const uniq = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

export async function api<T = unknown>(
  srv: TestServer,
  method: string,
  p: string,
  body?: unknown,
  token = srv.token,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${srv.url}/api${p}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // text/plain bodies (build output)
  }
  return { status: res.status, body: parsed as T };
}

export async function createApp(srv: TestServer, name: string): Promise<void> {
  const r = await api(srv, 'POST', '/apps', { name });
  if (r.status !== 201 && r.status !== 200)
    throw new Error(`apps:create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function createUser(srv: TestServer, email: string): Promise<string> {
  const r = await api<{ token: string }>(srv, 'POST', '/users', { email });
  if (r.status !== 201) throw new Error(`users:create ${email}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export function gitUrl(srv: TestServer, app: string, token = srv.token): string {
  return `http://slipway:${encodeURIComponent(token)}@127.0.0.1:${srv.apiPort}/${app}.git`;
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

const gitEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  LC_ALL: 'C',
});

export function git(args: string[], cwd?: string, timeoutMs = 300_000): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-c', 'credential.helper=', '-c', 'init.defaultBranch=main', ...args],
      { cwd, env: gitEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Starts `git push` and returns the child (to kill it mid-build) plus its collected output. */
export function spawnGit(args: string[], cwd: string) {
  // Its own process group, so kill() can take git's remote helper down with it, like Ctrl-C does.
  const child = spawn('git', ['-c', 'credential.helper=', ...args], {
    cwd,
    env: gitEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return { child, done, output: () => output, kill };
}

/** A work tree with the given files committed on main. */
export async function makeRepo(files: Record<string, string>, fromDir?: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-git-'));
  if (fromDir) fs.cpSync(fromDir, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}node_modules`) });
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  await git(['init', '-q'], dir);
  await git(['add', '-A'], dir);
  await git(['commit', '-qm', 'initial'], dir);
  return dir;
}

export async function commitFile(
  dir: string,
  name: string,
  content: string,
  message = `change ${name}`,
): Promise<string> {
  fs.writeFileSync(path.join(dir, name), content);
  await git(['add', name], dir);
  await git(['commit', '-qm', message], dir);
  return (await git(['rev-parse', 'HEAD'], dir)).stdout.trim();
}

export async function remoteHead(srv: TestServer, app: string, branch = 'main'): Promise<string> {
  const r = await git(['ls-remote', gitUrl(srv, app), `refs/heads/${branch}`]);
  return r.stdout.split(/\s/)[0] ?? '';
}

/** Lists every path under a directory (to prove a request created nothing). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** GET through the router with a Host header (fetch() silently drops Host, so use node:http). */
export function getVia(
  port: number,
  host: string,
  p = '/',
  timeoutMs = 3000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers: { host }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Starts slipway-router for a test server (startTestServer's own router start probes /healthz
 * without the `Host: slipway-router` the router requires). Returns a stop function.
 */
export async function startRouter(srv: TestServer): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, [path.join(DIST, 'router', 'main.js')], { env: srv.env, stdio: 'ignore' });
  fs.writeFileSync(path.join(srv.paths.run, 'test-router.pid'), String(child.pid));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`slipway-router exited with ${child.exitCode}`);
    const r = await getVia(srv.httpPort, 'slipway-router', '/healthz', 1000).catch(() => undefined);
    if (r?.status === 200) return stop;
    await new Promise((res) => setTimeout(res, 100));
  }
  await stop();
  throw new Error('slipway-router did not become healthy');
}
