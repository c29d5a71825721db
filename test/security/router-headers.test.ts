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
  writeRoutes,
  type Backend,
  type RouterProc,
} from '../integration/router-harness';

/**
 * Issue 12 item 7, router part, on the real slipway-router process: requests whose target app is
 * ambiguous (two Host headers, absolute-form targets naming another host) and client-sent
 * forwarding headers that would let a client pass for another address.
 */
describe('router: duplicate Host, absolute-form targets, spoofed forwarding headers', () => {
  const home = tmpDir('slipway-router-sec-');
  let router: RouterProc;
  let victim: Backend;
  let attacker: Backend;

  /** Sends one raw request and reads until the router closes the connection. */
  const raw = (text: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const sock = net.connect(router.httpPort, '127.0.0.1', () => sock.write(text));
      let got = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (got += d));
      sock.on('error', reject);
      sock.on('close', () => resolve(got));
      sock.setTimeout(5000, () => sock.destroy());
    });

  before(async () => {
    router = await startRouterProcess(home, { SLIPWAY_ROUTER_HTTPS: 'off' });
    victim = await startBackend('victim-web-1');
    attacker = await startBackend('attacker-web-1');
    await routesApplied(
      router.httpPort,
      writeRoutes(home, {
        victim: { hosts: ['victim.localhost'], backends: [{ dyno: 'web.1', url: victim.url }] },
        attacker: { hosts: ['attacker.localhost'], backends: [{ dyno: 'web.1', url: attacker.url }] },
      }),
    );
  });
  after(async () => {
    await router?.stop();
    await Promise.all([victim?.close(), attacker?.close()]);
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('two Host headers get 400 and reach no dyno (plain request and WebSocket handshake)', async () => {
    const before = victim.hits + attacker.hits;
    const r = await raw(
      'GET / HTTP/1.1\r\nHost: attacker.localhost\r\nHost: victim.localhost\r\nConnection: close\r\n\r\n',
    );
    assert.match(r, /^HTTP\/1\.1 400 /);
    assert.match(r, /Bad request/);
    const ws = await raw(
      'GET /ws HTTP/1.1\r\nHost: attacker.localhost\r\nHost: victim.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.match(ws, /^HTTP\/1\.1 400 /);
    assert.equal(victim.hits + attacker.hits, before);
  });

  test('an absolute-form target is served as nginx does: its authority names the app and the Host sent to the dyno', async () => {
    // Node's client sends a path given as an absolute URL as is: the request line is absolute-form.
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: router.httpPort,
          path: 'http://victim.localhost/p?q=1',
          headers: { Host: 'attacker.localhost' },
          agent: false,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { name: string; url: string; headers: Record<string, string> };
    assert.equal(seen.name, 'victim-web-1');
    assert.equal(seen.url, '/p?q=1', 'the dyno gets origin form');
    assert.equal(seen.headers.host, 'victim.localhost');
    // Targets that are neither origin- nor http(s) absolute-form are refused.
    const before = victim.hits + attacker.hits;
    assert.match(
      await raw('OPTIONS * HTTP/1.1\r\nHost: attacker.localhost\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 400 /,
    );
    assert.match(
      await raw('GET http://user@victim.localhost/ HTTP/1.1\r\nHost: attacker.localhost\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 400 /,
    );
    assert.equal(victim.hits + attacker.hits, before);
  });

  test('client-sent X-Forwarded-*, Forwarded and X-Real-IP are replaced by what the router saw', async () => {
    const r = await get(router.httpPort, 'victim.localhost', '/', {
      'X-Forwarded-For': '10.0.0.1',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Port': '443',
      'X-Forwarded-Host': 'admin.internal',
      Forwarded: 'for=10.0.0.1;proto=https',
      'X-Real-IP': '10.0.0.1',
    });
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-port'], String(router.httpPort));
    for (const h of ['x-forwarded-host', 'forwarded', 'x-real-ip']) assert.equal(seen.headers[h], undefined, h);
  });
});
