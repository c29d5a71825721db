import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpDir } from '../helpers/home';
import {
  encodeFrame,
  get,
  health,
  routesApplied,
  socketCount,
  startBackend,
  startRouterProcess,
  waitFor,
  waitForLog,
  writeRoutes,
  type Backend,
  type RouterProc,
} from './router-harness';

/** Sends raw bytes, collects what comes back until the router closes (or timeoutMs passes). */
function raw(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, timeoutMs);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    s.write(bytes);
  });
}

/** A backend that answers with exactly these bytes (to send what Node's own server never would). */
async function rawBackend(response: string): Promise<net.Server & { url: string }> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end(response));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(server, { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` });
}

describe('router: robustness corpus (smuggling, bad headers, aborts, resets) leaves no leaked sockets', () => {
  const home = tmpDir('slipway-router-rob-');
  let router: RouterProc;
  const backends: Backend[] = [];
  const rawServers: net.Server[] = [];
  let seenPaths: string[] = [];
  let streamClosed = 0;

  before(async () => {
    const echo = await startBackend('rob', (req, res) => {
      seenPaths.push(req.url ?? '');
      if (req.url === '/stream') {
        // A slow stream the client will abandon: the router must tell us (close) so we stop.
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        const t = setInterval(() => res.write('tick\n'), 20);
        res.on('close', () => {
          clearInterval(t);
          streamClosed++;
        });
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    backends.push(echo);
    const badHeader = await rawBackend('HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok');
    const garbage = await rawBackend('this is not http\r\n\r\n');
    // A dyno that accepts a WebSocket and then resets the connection at the first frame.
    const wsReset = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => {
        s.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
        );
        s.once('data', () => s.resetAndDestroy());
      });
    });
    await new Promise<void>((r) => wsReset.listen(0, '127.0.0.1', r));
    rawServers.push(badHeader, garbage, wsReset);
    router = await startRouterProcess(home, {
      SLIPWAY_ROUTER_HTTPS: 'off',
      SLIPWAY_ROUTER_HEADERS_TIMEOUT_MS: '1000',
      SLIPWAY_ROUTER_MAX_HEADER_BYTES: '8192',
      SLIPWAY_ROUTER_AGENT_IDLE_MS: '500',
    });
    await routesApplied(
      router.httpPort,
      writeRoutes(home, {
        rob: { hosts: ['rob.localhost'], backends: [{ dyno: 'web.1', url: echo.url }] },
        badhdr: { hosts: ['badhdr.localhost'], backends: [{ dyno: 'web.1', url: badHeader.url }] },
        garbage: { hosts: ['garbage.localhost'], backends: [{ dyno: 'web.1', url: garbage.url }] },
        wsreset: {
          hosts: ['wsreset.localhost'],
          backends: [{ dyno: 'web.1', url: `http://127.0.0.1:${(wsReset.address() as net.AddressInfo).port}` }],
        },
      }),
    );
  });
  after(async () => {
    await router?.stop();
    await Promise.all(backends.map((b) => b.close()));
    for (const s of rawServers) s.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('the corpus is answered or closed cleanly; the router keeps serving with sockets back to baseline', async () => {
    assert.equal((await get(router.httpPort, 'rob.localhost')).status, 200);
    // Idle baseline: listeners only, once the warm-up's client and dyno sockets are gone.
    await new Promise((r) => setTimeout(r, 1200));
    const baseline = socketCount(router.pid);
    seenPaths = [];

    // Request smuggling: Content-Length with Transfer-Encoding, duplicate Content-Length, obs-fold.
    const smuggle = `GET /smuggled HTTP/1.1\r\nHost: rob.localhost\r\n\r\n`;
    const clte = await raw(
      router.httpPort,
      `POST / HTTP/1.1\r\nHost: rob.localhost\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggle}`,
    );
    assert.match(clte.text, /^HTTP\/1\.1 400 /);
    assert.ok(clte.closed);
    const dupCl = await raw(
      router.httpPort,
      `POST / HTTP/1.1\r\nHost: rob.localhost\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello${smuggle}`,
    );
    assert.match(dupCl.text, /^HTTP\/1\.1 400 /);
    const fold = await raw(router.httpPort, `GET / HTTP/1.1\r\nHost: rob.localhost\r\nX-Folded: a\r\n  b\r\n\r\n`);
    assert.match(fold.text, /^HTTP\/1\.1 400 /);
    const teTwice = await raw(
      router.httpPort,
      `POST / HTTP/1.1\r\nHost: rob.localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${smuggle}`,
    );
    assert.doesNotMatch(teTwice.text, /smuggled/);
    assert.ok(!seenPaths.includes('/smuggled'), `no smuggled request reached the dyno (${seenPaths.join(' ')})`);

    // Malformed requests: garbage, control characters in a header, oversized headers, no Host.
    assert.match((await raw(router.httpPort, 'HELLO\r\n\r\n')).text, /^HTTP\/1\.1 400 /);
    assert.match(
      (await raw(router.httpPort, `GET / HTTP/1.1\r\nHost: rob.localhost\r\nX-Evil: a\x7fb\r\n\r\n`)).text,
      /^HTTP\/1\.1 400 /,
    );
    assert.match(
      (await raw(router.httpPort, `GET / HTTP/1.1\r\nHost: rob.localhost\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`)).text,
      /^HTTP\/1\.1 431 /,
    );
    assert.match((await raw(router.httpPort, `GET / HTTP/1.1\r\n\r\n`)).text, /^HTTP\/1\.1 400 /);

    // A client too slow to send its headers is cut off (headers timeout, configured 1 s here).
    const slow = await raw(router.httpPort, `GET / HTTP/1.1\r\nHost: rob.localhost\r\n`, 5000);
    assert.ok(slow.closed, 'slow headers connection closed by the router');
    assert.match(slow.text, /^(HTTP\/1\.1 408 |$)/);

    // Invalid characters or garbage from a dyno: a 502 page, not a crash (node-http-proxy#1679).
    const bad = await get(router.httpPort, 'badhdr.localhost');
    assert.equal(bad.status, 502);
    await waitForLog(home, / badhdr at=error code=H17 /);
    assert.equal((await get(router.httpPort, 'garbage.localhost')).status, 502);

    // Clients aborting mid-response: the dyno's stream is closed too (node-http-proxy#1586).
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(
          { port: router.httpPort, path: '/stream', headers: { Host: 'rob.localhost' }, agent: false },
          (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', () => undefined);
      });
    }
    await waitFor('dyno streams closed after client aborts', () => streamClosed >= 5, { timeoutMs: 3000 });
    await waitForLog(home, / rob at=error code=H27 desc="Client Request Interrupted" /);

    // Aborts in the middle of a request body, and right after sending the request.
    for (let i = 0; i < 5; i++) {
      const s = net.connect(router.httpPort, '127.0.0.1');
      s.on('error', () => undefined);
      s.write(`POST /upload HTTP/1.1\r\nHost: rob.localhost\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`);
      await new Promise((r) => setTimeout(r, 20));
      s.resetAndDestroy();
    }

    // WebSocket resets from the client side, mid-handshake and after it.
    for (let i = 0; i < 5; i++) {
      const s = net.connect(router.httpPort, '127.0.0.1');
      s.on('error', () => undefined);
      s.write(
        `GET /ws HTTP/1.1\r\nHost: rob.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      await new Promise<void>((resolve) => {
        s.once('data', () => {
          s.write(encodeFrame('x', true));
          setTimeout(() => {
            s.resetAndDestroy();
            resolve();
          }, 10);
        });
        setTimeout(resolve, 1000);
      });
    }

    // ... and from the dyno's side: the router closes the client's end too.
    for (let i = 0; i < 5; i++) {
      const s = net.connect(router.httpPort, '127.0.0.1');
      s.on('error', () => undefined);
      s.write(
        `GET /ws HTTP/1.1\r\nHost: wsreset.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const closed = await new Promise<boolean>((resolve) => {
        s.once('data', () => s.write(encodeFrame('bye', true)));
        s.on('close', () => resolve(true));
        setTimeout(() => resolve(false), 3000);
      });
      assert.ok(closed, 'client side closed after the dyno reset its WebSocket');
    }

    // Still serving, nothing uncaught, and every socket of the corpus is gone.
    assert.equal((await get(router.httpPort, 'rob.localhost')).status, 200);
    const h = await health(router.httpPort);
    assert.equal(h.uncaughtExceptions, 0);
    let now = 0;
    await waitFor(
      `router sockets back to baseline ${baseline} (now ${now})`,
      () => (now = socketCount(router.pid)) <= baseline,
      { timeoutMs: 8000 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; now ${socketCount(router.pid)}`);
    });
    assert.doesNotMatch(router.output(), /uncaught/);
  });
});
