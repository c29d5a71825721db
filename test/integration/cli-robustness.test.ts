import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';

/**
 * The CLI never shows a stack trace (issue 14, item 11): a closed pipe, an unexpected answer, a
 * server restart under `logs -t`, a typo, a missing --confirm. Real CLI binary, real server.
 */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
const NEUTRAL = tmpDir('slipway-cwd-');
let srv: TestServer;

before(async () => {
  srv = await startTestServer({ seedStacks: false });
  await cli(['apps:create', 'robust']);
});
after(async () => {
  await srv?.stop();
  fs.rmSync(NEUTRAL, { recursive: true, force: true });
});

async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = srv.cliEnv(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env, cwd: NEUTRAL, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const TRACE = /\n\s+at [^\n]+\(|node:internal|Error: write EPIPE/;

test('slipway ... | head: a reader that goes away ends the CLI quietly (exit 0, no trace)', async () => {
  // `help` prints ~40 lines; the reader closes before reading any of them.
  const child = spawn('bash', ['-c', `"${process.execPath}" "${CLI}" help | head -c 0; exit "\${PIPESTATUS[0]}"`], {
    env: srv.cliEnv(),
    cwd: NEUTRAL,
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(stderr, '', 'nothing on stderr');
  assert.equal(code, 0);
});

test('an unexpected error prints one line and a hint; the trace only with SLIPWAY_DEBUG=1', async () => {
  // An "API" that answers 200 with something that is not JSON: a proxy's login page, say.
  const fake = http.createServer((_req, res) => res.end('<html>captive portal</html>'));
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
  try {
    const env = { ...srv.cliEnv(), SLIPWAY_API_URL: url };
    const plain = await cli(['apps'], env);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /^slipway: unexpected error: .+\n  hint: run again with SLIPWAY_DEBUG=1/);
    assert.doesNotMatch(plain.stderr, TRACE);
    const debug = await cli(['apps'], { ...env, SLIPWAY_DEBUG: '1' });
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /\n\s+at /, 'the trace is there on demand');
  } finally {
    fake.close();
  }
});

test('unknown commands suggest the closest ones', async () => {
  const r = await cli(['cofnig:set', 'A=1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /"cofnig:set" is not a slipway command/);
  assert.match(r.stderr, /did you mean slipway config:set/);
  const far = await cli(['zzzzzzzz']);
  assert.match(far.stderr, /hint: see slipway help/);
});

test('-a APP is accepted before the command', async () => {
  const before = await cli(['-a', 'robust', 'config', '--json']);
  assert.equal(before.code, 0, before.stderr);
  assert.deepEqual(JSON.parse(before.stdout), {});
  const inline = await cli(['--app=robust', 'ps', '--json']);
  assert.equal(inline.code, 0, inline.stderr);
});

test('apps:destroy without a terminal names --confirm', async () => {
  const r = await cli(['apps:destroy', '-a', 'robust']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /needs an answer on a terminal/);
  assert.match(r.stderr, /--confirm robust/);
  assert.equal((await cli(['apps:info', '-a', 'robust'])).code, 0, 'the app is still there');
});

test('slipway help build lists its options', async () => {
  const r = await cli(['help', 'build']);
  assert.equal(r.code, 0);
  for (const opt of ['--tag', '--buildpack', '--env', '--clear-cache'])
    assert.ok(r.stdout.includes(opt), `${opt} in:\n${r.stdout}`);
});

test('logs -t survives a server restart: a notice, then new lines keep coming', async () => {
  const child = spawn(process.execPath, [CLI, 'logs', '-t', '-a', 'robust'], { env: srv.cliEnv(), cwd: NEUTRAL });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const until = async (what: string, cond: () => boolean, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nstdout: ${stdout}\nstderr: ${stderr}`);
      if (child.exitCode !== null)
        throw new Error(`logs -t exited (${child.exitCode}) while waiting for ${what}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  let again: ReturnType<typeof spawn> | undefined;
  try {
    await cli(['config:set', 'BEFORE=1', '-a', 'robust']);
    await until('the first API line', () => /BEFORE/.test(stdout));
    const pid = Number(fs.readFileSync(path.join(srv.paths.run, 'test-server.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await until('the interruption notice', () => /log stream interrupted/.test(stderr));
    again = spawn(process.execPath, [path.join(DIST, 'server', 'main.js')], { env: srv.env, stdio: 'ignore' });
    fs.writeFileSync(path.join(srv.paths.run, 'test-server.pid'), String(again.pid));
    await until('the reconnect', () => /log stream reconnected/.test(stderr));
    await cli(['config:set', 'AFTER=1', '-a', 'robust']);
    await until('a line after the restart', () => /AFTER/.test(stdout));
    assert.equal(stdout.match(/BEFORE/g)?.length, 1, 'old lines are not printed twice');
    assert.doesNotMatch(stderr, TRACE);
  } finally {
    child.kill('SIGINT');
    // The restarted server is not one of the helper's children: stop it here.
    if (again && again.exitCode === null) {
      again.kill('SIGTERM');
      await new Promise((r) => again!.once('exit', r));
    }
  }
});
