import { test } from 'node:test';
import assert from 'node:assert/strict';
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
    child = spawn(process.execPath, [path.join(DIST, 'cli', 'main.js'), 'logs', '-t', '-a', 'session-app'], { env: srv.cliEnv() });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const deadline = Date.now() + 5000;
    while (!out.includes('App session-app created') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /App session-app created/);
    const t0 = Date.now();
    await srv.stop();
    const stopMs = Date.now() - t0;
    console.log(`# server stop with an open logs -t session: ${stopMs} ms`);
    assert.ok(stopMs < 5000, `stop took ${stopMs} ms`);
    // The CLI outlives a server restart (cli-robustness tests the reconnect): it reports the drop.
    const until = Date.now() + 5000;
    while (!/log stream interrupted/.test(err) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.match(err, /log stream interrupted \(is slipway-server restarting\?\); reconnecting/);
    assert.equal(child.exitCode, null, 'still waiting to reconnect');
  } finally {
    child?.kill('SIGKILL');
    await srv.stop();
  }
});
