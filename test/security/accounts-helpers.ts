import { execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { DIST, type TestServer } from '../helpers/server';

/** The real `slipway` CLI binary against a test server, for the accounts tests of this tier. */
export const CLI = path.join(DIST, 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(srv: TestServer, args: string[], token?: string, cwd = '/'): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...srv.cliEnv(token), NO_COLOR: '1' }, cwd, timeout: 60_000 },
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

/** Runs the CLI and fails with its output unless it exits 0; returns stdout. */
export async function ok(srv: TestServer, args: string[], token?: string): Promise<string> {
  const r = await cli(srv, args, token);
  if (r.code !== 0) throw new Error(`slipway ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Creates a user through the CLI (as the admin) and returns their token. */
export async function makeUser(srv: TestServer, email: string): Promise<string> {
  return (JSON.parse(await ok(srv, ['users:create', email, '--json'])) as { token: string }).token;
}

/** A long-running CLI command (logs -t): its output so far, and a promise of its exit. */
export function spawnCli(srv: TestServer, args: string[], token?: string) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...srv.cliEnv(token), NO_COLOR: '1' },
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  return { child, output: () => output, exited };
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
