import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpDir } from '../helpers/home';
import {
  get,
  routesApplied,
  startBackend,
  startRouterProcess,
  waitForLog,
  writeRoutes,
  type Backend,
  type RouterProc,
} from './router-harness';
import { waitFor } from '../helpers/wait';

// The router as a real child process, real backends on 127.0.0.1:0, routes written like the server does.
describe('router: routing, balancing, headers, errors, timeouts', () => {
  const home = tmpDir('slipway-router-');
  let router: RouterProc;
  const backends: Backend[] = [];
  const backend = async (name: string, handler?: http.RequestListener) => {
    const b = await startBackend(name, handler);
    backends.push(b);
    return b;
  };
  const routes = async (apps: Parameters<typeof writeRoutes>[1]) =>
    routesApplied(router.httpPort, writeRoutes(home, apps));

  before(async () => {
    router = await startRouterProcess(home, {
      SLIPWAY_ROUTER_TIMEOUT_MS: '1000',
      SLIPWAY_ROUTER_IDLE_MS: '1200',
      SLIPWAY_ROUTER_HTTPS: 'off',
    });
  });
  after(async () => {
    await router?.stop();
    await Promise.all(backends.map((b) => b.close()));
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('routes by exact host and custom domain; lookalike hosts get the 404 page', async () => {
    const a = await backend('alpha-web-1');
    const b = await backend('beta-web-1');
    await routes({
      alpha: { hosts: ['alpha.localhost', 'www.alpha.test', '*.wild.test'], backends: [{ dyno: 'web.1', url: a.url }] },
      beta: { hosts: ['beta.localhost'], backends: [{ dyno: 'web.1', url: b.url }] },
    });
    for (const host of [
      'alpha.localhost',
      'ALPHA.localhost',
      `alpha.localhost:${router.httpPort}`,
      'alpha.localhost.',
      'www.alpha.test',
      'x.wild.test',
    ]) {
      const r = await get(router.httpPort, host);
      assert.equal(r.status, 200, host);
      assert.equal(JSON.parse(r.body).name, 'alpha-web-1', host);
    }
    assert.equal(JSON.parse((await get(router.httpPort, 'beta.localhost')).body).name, 'beta-web-1');
    for (const host of [
      'alpha.localhost.evil.com',
      'evilalpha.localhost',
      'alpha.localhos',
      'x-alpha.localhost',
      'alpha',
      'wild.test',
      'a.b.wild.test',
      'alpha.test',
      '127.0.0.1',
      '*.wild.test',
    ]) {
      const r = await get(router.httpPort, host);
      assert.equal(r.status, 404, host);
      assert.match(r.body, /No such app/);
      assert.match(r.body, new RegExp(String(r.headers['x-request-id'])));
    }
    const line = await waitForLog(home, / alpha at=info method=GET path="\/" host=alpha\.localhost /);
    assert.match(
      line,
      /^\d{4}-\d\d-\d\dT\S+Z alpha at=info method=GET path="\/" host=alpha\.localhost request_id=\S+ fwd="127\.0\.0\.1" dyno=web\.1 connect=\d+ms service=\d+ms status=200 bytes=\d+ protocol=http$/,
    );
  });

  test('spreads requests evenly across three dynos', async () => {
    const dynos = [await backend('d1'), await backend('d2'), await backend('d3')];
    await routes({
      spread: { hosts: ['spread.localhost'], backends: dynos.map((d, i) => ({ dyno: `web.${i + 1}`, url: d.url })) },
    });
    for (let i = 0; i < 30; i++) assert.equal((await get(router.httpPort, 'spread.localhost')).status, 200);
    assert.deepEqual(
      dynos.map((d) => d.hits),
      [10, 10, 10],
    );
    // Concurrent requests spread too.
    await Promise.all(Array.from({ length: 30 }, () => get(router.httpPort, 'spread.localhost')));
    for (const d of dynos) assert.ok(d.hits >= 15, `dyno ${d.name} got ${d.hits} of 60`);
  });

  test("clients that abort free their dyno's slot at once (least-outstanding stays even)", async () => {
    const slow = await backend('abort-slow', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      if (req.url !== '/stream') return res.end('ok');
      res.write('first\n'); // then nothing: the client gives up
    });
    const quick = await backend('abort-quick', (_req, res) => res.end('ok'));
    await routes({
      aborts: {
        hosts: ['aborts.localhost'],
        backends: [
          { dyno: 'web.1', url: slow.url },
          { dyno: 'web.2', url: quick.url },
        ],
      },
    });
    for (let i = 0; i < 6; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(
          { port: router.httpPort, path: '/stream', headers: { Host: 'aborts.localhost' }, agent: false },
          (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
            res.once('end', resolve);
          },
        );
        req.on('error', () => resolve());
      });
    }
    await new Promise((r) => setTimeout(r, 100));
    slow.hits = 0;
    quick.hits = 0;
    for (let i = 0; i < 20; i++) assert.equal((await get(router.httpPort, 'aborts.localhost')).status, 200);
    assert.deepEqual([slow.hits, quick.hits], [10, 10]);
  });

  test('a dyno that died is skipped: every request still succeeds on the live one', async () => {
    const live = await backend('live');
    const dead = await backend('dead');
    await routes({
      fail: {
        hosts: ['fail.localhost'],
        backends: [
          { dyno: 'web.1', url: dead.url },
          { dyno: 'web.2', url: live.url },
        ],
      },
    });
    await dead.close();
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push((await get(router.httpPort, 'fail.localhost')).status);
    assert.deepEqual(statuses, Array(20).fill(200));
    assert.equal(live.hits, 20);
    // A request with a body is retried too: nothing of it was sent to the dead dyno.
    const post = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          port: router.httpPort,
          method: 'POST',
          path: '/',
          headers: { Host: 'fail.localhost', 'Content-Type': 'text/plain' },
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('hello');
    });
    assert.equal(post, 200);
  });

  test('Heroku headers: X-Forwarded-*, X-Request-Id kept or made, Via, hop-by-hop stripped, Host kept', async () => {
    const h = await backend('headers');
    await routes({ hdr: { hosts: ['hdr.localhost', 'hdr.example.org'], backends: [{ dyno: 'web.1', url: h.url }] } });
    const id = 'abcdefghij0123456789-req';
    const r = await get(router.httpPort, 'hdr.example.org', '/p?q=1', {
      'X-Forwarded-For': '203.0.113.9',
      'X-Request-Id': id,
      'X-Forwarded-Proto': 'https',
      Connection: 'keep-alive, X-Drop-Me',
      'X-Drop-Me': 'secret',
      'Keep-Alive': 'timeout=5',
      TE: 'trailers',
      'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
      Via: '1.0 upstream-cdn',
    });
    const seen = JSON.parse(r.body);
    assert.equal(seen.url, '/p?q=1');
    assert.equal(seen.headers.host, 'hdr.example.org');
    // A client-sent X-Forwarded-For is replaced, not extended: the dyno sees only the real peer.
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-port'], String(router.httpPort));
    assert.equal(seen.headers['x-request-id'], id);
    assert.equal(seen.headers.via, '1.0 upstream-cdn, 1.1 slipway');
    for (const hop of ['x-drop-me', 'keep-alive', 'te', 'proxy-authorization'])
      assert.equal(seen.headers[hop], undefined, hop);
    assert.equal(r.headers['x-request-id'], id);
    assert.equal(r.headers['x-dyno'], 'headers');
    assert.equal(r.headers['x-secret-hop'], undefined, 'a header the dyno listed in Connection is stripped');
    assert.match(String(r.headers.via), /1\.1 slipway/);
    // An invalid request id is replaced by a generated one, returned to the client.
    const bad = await get(router.httpPort, 'hdr.localhost', '/', { 'X-Request-Id': 'short' });
    const made = JSON.parse(bad.body).headers['x-request-id'];
    assert.match(made, /^[0-9a-f-]{36}$/);
    assert.equal(bad.headers['x-request-id'], made);
  });

  test('503 H14, 503 H10, maintenance and 502 H13: branded pages with the request id, codes in the log', async () => {
    const closer = await backend('closer', (req) => req.socket.destroy());
    await routes({
      noweb: { hosts: ['noweb.localhost'], backends: [], webQuantity: 0 },
      crashed: { hosts: ['crashed.localhost'], backends: [], webQuantity: 2 },
      maint: { hosts: ['maint.localhost'], backends: [{ dyno: 'web.1', url: closer.url }], maintenance: true },
      closer: { hosts: ['closer.localhost'], backends: [{ dyno: 'web.1', url: closer.url }] },
    });
    const cases: Array<[string, number, RegExp, RegExp]> = [
      [
        'noweb.localhost',
        503,
        /no web dynos/,
        / noweb at=error code=H14 desc="No web processes running" .* status=503 /,
      ],
      [
        'crashed.localhost',
        503,
        /No web dyno of this app/,
        / crashed at=error code=H10 desc="App crashed" .* status=503 /,
      ],
      ['maint.localhost', 503, /maintenance/, / maint at=error code=H80 desc="Maintenance mode" .* status=503 /],
      [
        'closer.localhost',
        502,
        /closed the connection/,
        / closer at=error code=H13 desc="Connection closed without response" .* dyno=web\.1 .* status=502 /,
      ],
    ];
    for (const [host, status, page, logRe] of cases) {
      const r = await get(router.httpPort, host);
      assert.equal(r.status, status, host);
      assert.match(r.body, page);
      assert.match(r.body, /Slipway/);
      assert.ok(r.body.includes(String(r.headers['x-request-id'])), 'page shows the request id');
      const line = await waitForLog(home, logRe);
      assert.ok(line.includes(String(r.headers['x-request-id'])));
    }
    assert.equal(closer.hits, 1, 'maintenance never reached the dyno');
  });

  test('H12 after the configured first-byte timeout; H15 when a started response goes idle', async () => {
    const silent = await backend('silent', () => undefined);
    const stalls = await backend('stalls', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first chunk\n');
    });
    await routes({
      slow: { hosts: ['slow.localhost'], backends: [{ dyno: 'web.1', url: silent.url }] },
      stall: { hosts: ['stall.localhost'], backends: [{ dyno: 'web.1', url: stalls.url }] },
    });
    const t0 = Date.now();
    const r = await get(router.httpPort, 'slow.localhost');
    const took = Date.now() - t0;
    assert.equal(r.status, 503);
    assert.match(r.body, /H12/);
    assert.ok(took >= 950 && took < 4000, `H12 after ${took} ms (configured 1000)`);
    await waitForLog(home, / slow at=error code=H12 desc="Request timeout" .* status=503 /);

    const cut = await new Promise<{ body: string; error: string }>((resolve) => {
      let body = '';
      const req = http.get({ port: router.httpPort, headers: { Host: 'stall.localhost' }, agent: false }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('error', (e) => resolve({ body, error: e.message }));
        res.on('end', () => resolve({ body, error: '' }));
      });
      req.on('error', (e) => resolve({ body, error: e.message }));
    });
    assert.equal(cut.body, 'first chunk\n');
    assert.notEqual(cut.error, '', 'the idle stream is cut, not ended cleanly');
    await waitForLog(home, / stall at=error code=H15 desc="Idle connection" .* status=200 /);
  });

  test('response framing survives the proxy: HEAD, chunked, close-delimited, 1xx, 204, large bodies, keep-alive reuse', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const framing = await backend('framing', (req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('a'.repeat(10));
        setTimeout(() => res.end('b'.repeat(10)), 20);
      } else if (req.url === '/nocontent') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/big') {
        res.end(big);
      } else if (req.url === '/many') {
        // More header pairs than llhttp hands over at once (32): they arrive in two batches.
        res.writeHead(200, Array.from({ length: 80 }, (_, i) => [`X-H${i}`, `v${i}`]).flat());
        res.end('many');
      } else if (req.url === '/hints') {
        res.writeEarlyHints({ link: '</style.css>; rel=preload' });
        setTimeout(() => res.end('after hints'), 10);
      } else {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '10' });
        res.end(req.method === 'HEAD' ? undefined : 'plain body');
      }
    });
    // An HTTP/1.0-style dyno: no length, body ends when it closes the connection.
    const closeDelimited = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close'));
    });
    await new Promise<void>((r) => closeDelimited.listen(0, '127.0.0.1', r));
    const cdUrl = `http://127.0.0.1:${(closeDelimited.address() as net.AddressInfo).port}`;
    try {
      await routes({
        framing: { hosts: ['framing.localhost'], backends: [{ dyno: 'web.1', url: framing.url }] },
        old: { hosts: ['old.localhost'], backends: [{ dyno: 'web.1', url: cdUrl }] },
      });
      const head = await get(router.httpPort, 'framing.localhost', '/', {}, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '10');
      assert.equal(head.body, '');
      assert.equal((await get(router.httpPort, 'framing.localhost', '/chunked')).body, 'a'.repeat(10) + 'b'.repeat(10));
      assert.equal((await get(router.httpPort, 'framing.localhost', '/nocontent')).status, 204);
      const many = await get(router.httpPort, 'framing.localhost', '/many');
      assert.equal(Object.keys(many.headers).filter((k) => k.startsWith('x-h')).length, 80);
      assert.equal(many.headers['x-h79'], 'v79');
      const hints = await get(router.httpPort, 'framing.localhost', '/hints');
      assert.equal(hints.status, 200);
      assert.equal(hints.body, 'after hints');
      const large = await get(router.httpPort, 'framing.localhost', '/big');
      assert.equal(large.body.length, big.length);
      for (let i = 0; i < 3; i++) assert.equal((await get(router.httpPort, 'old.localhost')).body, 'until close');
      // Many requests over the router's pooled connections: all answered, few dyno connections.
      let connections = 0;
      framing.server.on('connection', () => connections++);
      const bodies = await Promise.all(
        Array.from({ length: 40 }, () => get(router.httpPort, 'framing.localhost', '/')),
      );
      assert.ok(bodies.every((r) => r.body === 'plain body'));
      for (let i = 0; i < 20; i++)
        assert.equal((await get(router.httpPort, 'framing.localhost', '/')).body, 'plain body');
      assert.ok(connections <= 40, `${connections} dyno connections for 60 requests`);
    } finally {
      closeDelimited.close();
    }
  });

  test('a pooled connection the dyno closed unanswered: GET is re-sent on a new one, DELETE is not', async () => {
    // Each connection answers its first request and silently closes on the second (the keep-alive race).
    const flaky = net.createServer((s) => {
      let n = 0;
      s.on('error', () => undefined);
      s.on('data', () => {
        n++;
        if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok');
        else s.destroy();
      });
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    try {
      await routes({
        flaky: {
          hosts: ['flaky.localhost'],
          backends: [{ dyno: 'web.1', url: `http://127.0.0.1:${(flaky.address() as net.AddressInfo).port}` }],
        },
      });
      for (let i = 0; i < 3; i++) assert.equal((await get(router.httpPort, 'flaky.localhost')).status, 200, `GET ${i}`);
      assert.equal(
        (await get(router.httpPort, 'flaky.localhost', '/', {}, 'DELETE')).status,
        502,
        'a DELETE on the stale connection is not repeated',
      );
      await waitForLog(home, / flaky at=error code=H13 .*method=DELETE/);
    } finally {
      flaky.close();
    }
  });

  test('a route change is applied without a restart (its latency is measured by bench/router.ts)', async () => {
    const before1 = await backend('v1');
    const after1 = await backend('v2');
    await routes({ flip: { hosts: ['flip.localhost'], backends: [{ dyno: 'web.1', url: before1.url }] } });
    assert.equal(JSON.parse((await get(router.httpPort, 'flip.localhost')).body).name, 'v1');
    writeRoutes(home, { flip: { hosts: ['flip.localhost'], backends: [{ dyno: 'web.1', url: after1.url }] } });
    await waitFor(
      'the new backend to serve flip.localhost',
      async () => JSON.parse((await get(router.httpPort, 'flip.localhost')).body).name === 'v2',
      { timeoutMs: 5000, intervalMs: 5 },
    );
  });

  test('a broken routes file keeps the current routes', async () => {
    const keep = await backend('keep');
    await routes({ keep: { hosts: ['keep.localhost'], backends: [{ dyno: 'web.1', url: keep.url }] } });
    fs.writeFileSync(`${home}/run/routes.json`, '{"version":1, "apps": {"keep": ');
    // The router read the broken file (and said so) before we check it still routes.
    await waitFor(
      'the router to refuse the broken routes file',
      () => /kept the previous routes/.test(router.output()),
      { timeoutMs: 5000 },
    );
    assert.equal((await get(router.httpPort, 'keep.localhost')).status, 200);
  });
});
