import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { DIST, startTestServer } from '../helpers/server';

test('a server shutting down ends open `logs -t` sessions at once (no 10 s wait); the CLI says so and waits to reconnect', async () => {
  const srv = await startTestServer({ seedStacks: false });
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const res = await fetch(`${srv.url}/api/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'session-app' }),
    });
    assert.equal(res.status, 201);
    child = spawn(process.execPath, [path.join(DIST, 'cli', 'main.js'), 'logs', '-t', '-a', 'session-app'], {
      env: srv.cliEnv(),
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    await waitFor('the session backlog', () => out.includes('App session-app created'), {
      timeoutMs: 5000,
      intervalMs: 20,
      context: () => out,
    });
    assert.match(out, /App session-app created/);
    const t0 = Date.now();
    await srv.stop();
    const stopMs = Date.now() - t0;
    console.log(`# server stop with an open logs -t session: ${stopMs} ms`);
    assert.ok(stopMs < 5000, `stop took ${stopMs} ms`);
    // The CLI outlives a server restart (cli-robustness tests the reconnect): it reports the drop.
    await waitFor('the CLI to report the dropped stream', () => /log stream interrupted/.test(err), {
      timeoutMs: 5000,
      intervalMs: 20,
      context: () => err,
    });
    assert.match(err, /log stream interrupted \(is slipway-server restarting\?\); reconnecting/);
    assert.equal(child.exitCode, null, 'still waiting to reconnect');
  } finally {
    child?.kill('SIGKILL');
    await srv.stop();
  }
});
