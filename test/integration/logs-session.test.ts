import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { DIST, startTestServer } from '../helpers/server';

test('a server shutting down ends open `logs -t` sessions at once (no 10 s wait), and the CLI exits', async () => {
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
    child.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 5000;
    while (!out.includes('App session-app created') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /App session-app created/);
    const t0 = Date.now();
    await srv.stop();
    const stopMs = Date.now() - t0;
    assert.equal(await exited, 0);
    console.log(`# server stop with an open logs -t session: ${stopMs} ms`);
    assert.ok(stopMs < 5000, `stop took ${stopMs} ms`);
  } finally {
    child?.kill('SIGKILL');
    await srv.stop();
  }
});
