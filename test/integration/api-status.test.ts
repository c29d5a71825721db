import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { getWithHost } from '../../server/api/status';

test('with the real router: status reports it healthy, and its access log lines reach the app log stream', async () => {
  const srv = await startTestServer({ seedStacks: false, router: true });
  try {
    const h = { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' };
    assert.equal(
      (
        await fetch(`${srv.url}/api/apps`, {
          method: 'POST',
          headers: h,
          body: JSON.stringify({ name: 'edge-status' }),
        })
      ).status,
      201,
    );
    const status = (await (await fetch(`${srv.url}/api/status`, { headers: h })).json()) as {
      router: { status: string; url: string };
    };
    assert.equal(status.router.status, 'ok', JSON.stringify(status.router));
    assert.equal(status.router.url, `http://127.0.0.1:${srv.httpPort}/healthz`);

    // The app was never released: the router answers 503 "Nothing deployed yet" (not an H10
    // "crashed") and logs the request; the hub delivers it.
    const logs = await waitFor(
      "the router line in the app's logs",
      async () => {
        // fetch cannot set Host; node:http can.
        await getWithHost(`http://127.0.0.1:${srv.httpPort}/probe-path`, 'edge-status.localhost', 2000);
        const text = await (await fetch(`${srv.url}/api/apps/edge-status/logs?source=router`, { headers: h })).text();
        return text.includes('/probe-path') && text;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    assert.match(logs, /slipway\[router\]: at=\w+ .*path="\/probe-path".* status=503/);
    assert.doesNotMatch(logs, /code=H10/, 'an app that never ran is not reported as crashed');
  } finally {
    await srv.stop();
  }
});
