import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { tmpDir } from '../helpers/home';
import {
  decodeFrame,
  encodeFrame,
  get,
  routesApplied,
  startBackend,
  startRouterProcess,
  waitForLog,
  writeRoutes,
  type Backend,
  type RouterProc,
} from './router-harness';

function makeCert(dir: string, name: string, hosts: string[]): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      `/CN=${hosts[0]}`,
      '-addext',
      `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}`,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}

function peerCommonName(port: number, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cn = String(s.getPeerCertificate().subject.CN);
      s.end();
      resolve(cn);
    });
    s.on('error', reject);
  });
}

/** A WebSocket handshake and one echo, by hand over a raw socket (or TLS socket). */
function wsEcho(socket: net.Socket, host: string, text: string): Promise<{ status: string; echo: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let status = '';
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!status) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        status = buf.subarray(0, buf.indexOf('\r\n')).toString();
        buf = buf.subarray(end + 4);
        if (!status.includes(' 101 ')) return resolve({ status, echo: '' });
        socket.write(encodeFrame(text, true));
      }
      const echo = decodeFrame(buf);
      if (echo) {
        socket.destroy();
        resolve({ status, echo });
      }
    });
    socket.write(
      `GET /socket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

describe('router: TLS with SNI, WebSockets, restart without the server', () => {
  const home = tmpDir('slipway-router-tls-');
  let router: RouterProc;
  const backends: Backend[] = [];
  let app: Backend;

  before(async () => {
    const certs = path.join(home, 'run', 'certs');
    fs.mkdirSync(certs, { recursive: true });
    makeCert(certs, '1', ['a.example.test']);
    makeCert(certs, '2', ['b.example.test', '*.b.example.test']);
    app = await startBackend('tls-app');
    backends.push(app);
    writeRoutes(
      home,
      {
        site: {
          hosts: ['site.localhost', 'a.example.test', 'b.example.test', '*.b.example.test'],
          backends: [{ dyno: 'web.1', url: app.url }],
        },
        sec: { hosts: ['sec.localhost'], backends: [{ dyno: 'web.1', url: app.url }], httpsOnly: true },
      },
      [
        { hosts: ['a.example.test'], certFile: 'run/certs/1.crt', keyFile: 'run/certs/1.key' },
        { hosts: ['b.example.test', '*.b.example.test'], certFile: 'run/certs/2.crt', keyFile: 'run/certs/2.key' },
      ],
    );
    router = await startRouterProcess(home, { SLIPWAY_ROUTER_IDLE_MS: '800', SLIPWAY_ROUTER_TIMEOUT_MS: '800' });
  });
  after(async () => {
    await router?.stop();
    await Promise.all(backends.map((b) => b.close()));
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('two certificates chosen by SNI; the platform certificate otherwise', async () => {
    assert.equal(await peerCommonName(router.httpsPort, 'a.example.test'), 'a.example.test');
    assert.equal(await peerCommonName(router.httpsPort, 'b.example.test'), 'b.example.test');
    assert.equal(await peerCommonName(router.httpsPort, 'x.b.example.test'), 'b.example.test', 'explicit wildcard');
    assert.equal(await peerCommonName(router.httpsPort, 'site.localhost'), 'localhost', 'platform certificate');
    assert.equal(await peerCommonName(router.httpsPort), 'localhost', 'no SNI: platform certificate');
    const platform = fs.statSync(path.join(home, 'run', 'certs', 'platform.key'));
    assert.equal(platform.mode & 0o777, 0o600);
  });

  test('https requests are proxied with X-Forwarded-Proto https', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port: router.httpsPort,
          servername: 'a.example.test',
          headers: { Host: 'a.example.test' },
          rejectUnauthorized: false,
          agent: false,
        },
        (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(b));
        },
      );
      req.on('error', reject);
    });
    const seen = JSON.parse(body);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-port'], String(router.httpsPort));
    await waitForLog(home, / site at=info method=GET path="\/" host=a\.example\.test .* status=200 .* protocol=https$/);
  });

  test('https_only apps get a 308 to https from plain http', async () => {
    const r = await get(router.httpPort, 'sec.localhost', '/login?next=%2F');
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, `https://sec.localhost:${router.httpsPort}/login?next=%2F`);
  });

  test('WebSocket echo through the router, over http and https', async () => {
    const plain = await wsEcho(net.connect(router.httpPort, '127.0.0.1'), 'site.localhost', 'hello');
    assert.match(plain.status, /^HTTP\/1\.1 101/);
    assert.equal(plain.echo, 'echo:hello');
    const secure = await wsEcho(
      tls.connect({
        host: '127.0.0.1',
        port: router.httpsPort,
        servername: 'b.example.test',
        rejectUnauthorized: false,
      }),
      'b.example.test',
      'tls',
    );
    assert.equal(secure.echo, 'echo:tls');
    const unknown = await wsEcho(net.connect(router.httpPort, '127.0.0.1'), 'nope.localhost', 'x');
    assert.match(unknown.status, /^HTTP\/1\.1 404/);
    await waitForLog(home, / site at=info method=GET path="\/socket" host=site\.localhost .* status=101 /);
  });

  test('an idle WebSocket is closed (H15); a handshake the dyno never answers is an H12', async () => {
    const s = net.connect(router.httpPort, '127.0.0.1');
    const first = await wsEcho(s, 'site.localhost', 'once');
    assert.equal(first.echo, 'echo:once');
    const idle = net.connect(router.httpPort, '127.0.0.1');
    const closedAfter = await new Promise<number>((resolve, reject) => {
      let t0 = 0;
      idle.on('error', reject);
      idle.once('data', () => (t0 = Date.now())); // the 101
      idle.on('close', () => resolve(Date.now() - t0));
      idle.write(
        `GET /idle HTTP/1.1\r\nHost: site.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    assert.ok(closedAfter >= 700 && closedAfter < 5000, `closed after ${closedAfter} ms idle (configured 800)`);
    await waitForLog(home, / site at=error code=H15 desc="Idle connection" method=GET path="\/idle" /);

    const mute = await startBackend('mute');
    backends.push(mute);
    mute.server.removeAllListeners('upgrade');
    mute.server.on('upgrade', () => undefined); // accepts the connection, never answers
    const current = JSON.parse(fs.readFileSync(path.join(home, 'run', 'routes.json'), 'utf8'));
    await routesApplied(
      router.httpPort,
      writeRoutes(
        home,
        { ...current.apps, mute: { hosts: ['mute.localhost'], backends: [{ dyno: 'web.1', url: mute.url }] } },
        current.certificates,
      ),
    );
    const r = await wsEcho(net.connect(router.httpPort, '127.0.0.1'), 'mute.localhost', 'x');
    assert.match(r.status, /^HTTP\/1\.1 503/);
    await waitForLog(home, / mute at=error code=H12 desc="Request timeout" .*status=503 /);
  });

  test('after a restart, with no server running, the router restores every route from the last file', async () => {
    await router.stop();
    router = await startRouterProcess(home);
    await routesApplied(
      router.httpPort,
      JSON.parse(fs.readFileSync(path.join(home, 'run', 'routes.json'), 'utf8')).generatedAt,
    );
    const r = await get(router.httpPort, 'b.example.test');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).name, 'tls-app');
    assert.equal(await peerCommonName(router.httpsPort, 'a.example.test'), 'a.example.test');
  });
});
