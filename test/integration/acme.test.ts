import { waitFor as wait } from '../helpers/wait';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';
import { preparePebble, type Pebble } from './pebble-harness';
import {
  startBackend,
  startRouterProcess,
  writeRoutes,
  routesApplied,
  type Backend,
  type RouterProc,
} from './router-harness';

/**
 * Automatic certificates against a real ACME server: pebble (Let's Encrypt's test CA, from
 * Debian) validates HTTP-01 by connecting to the real slipway-router, which answers from
 * run/acme-challenges.json; the server (real process) orders through acme-client. The app has no
 * dynos: the router's own 503 page over a verified TLS connection is enough to prove which
 * certificate it serves. Certificates are checked with node's TLS client (SNI + pebble's root).
 */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
const APP = 'acme-app';
const NEUTRAL = tmpDir('slipway-cwd-');
let pebble: Pebble;
let srv: TestServer;
let root: string;

before(async () => {
  pebble = await preparePebble();
  srv = await startTestServer({
    router: true,
    seedStacks: false,
    env: {
      SLIPWAY_ACME_EMAIL: 'ops@example.com',
      SLIPWAY_ACME_DIRECTORY_URL: pebble.directoryUrl,
      SLIPWAY_ACME_CA_FILE: pebble.caFile,
      // Renewal checks every second instead of daily, so a certificate marked near expiry is seen at once.
      SLIPWAY_ACME_CHECK_INTERVAL_S: '1',
    },
  });
  await pebble.start(srv.httpPort);
  root = await pebble.issuingRoot();
  await ok(['apps:create', APP, '--no-remote']);
});
after(async () => {
  await srv?.stop();
  await pebble?.stop();
  fs.rmSync(NEUTRAL, { recursive: true, force: true });
});

async function ok(args: string[]): Promise<string> {
  try {
    return (await exec(process.execPath, [CLI, ...args], { env: srv.cliEnv(), cwd: NEUTRAL, timeout: 30_000 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`slipway ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

interface AutoDomain {
  hostname: string;
  status: string;
  certificateId: number | null;
  expiresAt: string | null;
  error: string | null;
}

async function autoDomain(host: string): Promise<AutoDomain | undefined> {
  const out = JSON.parse(await ok(['certs', '-a', APP, '--json'])) as { auto: { domains: AutoDomain[] } };
  return out.auto.domains.find((d) => d.hostname === host);
}

/** test/helpers/wait.ts with the server, router and pebble output on a time-out. */
const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> =>
  wait(what, fn, {
    timeoutMs,
    intervalMs: 300,
    context: () => `--- server/router:\n${srv.output().slice(-3000)}\n--- pebble:\n${pebble.output().slice(-3000)}`,
  });

const waitStatus = (host: string, status: string, extra: (d: AutoDomain) => boolean = () => true) =>
  waitFor(`${host} to be ${status}`, async () => {
    const d = await autoDomain(host);
    return d && d.status === status && extra(d) ? d : undefined;
  });

interface TlsAnswer {
  status: number;
  serial: string;
  issuer: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET https://HOST/ through the router with SNI, verified against pebble's root (throws if it does not verify). */
function tlsGet(host: string, urlPath = '/', port = srv.httpsPort, ca: string | null = root): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        servername: host,
        headers: { host },
        ca: ca ?? undefined,
        rejectUnauthorized: ca !== null,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            serial: cert.serialNumber,
            issuer: String(cert.issuer?.CN ?? ''),
            headers: res.headers,
            body,
          }),
        );
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

function plainGet(
  host: string,
  urlPath: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: srv.httpPort, path: urlPath, headers: { host }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

async function routerPid(): Promise<number> {
  const r = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: srv.httpPort, path: '/healthz', headers: { host: 'slipway-router' } }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
  return (JSON.parse(r) as { pid: number }).pid;
}

/** Test-only: moves an issued certificate's recorded expiry near, as if 85 of its days had passed. */
function markNearExpiry(certificateId: number): void {
  const db = new Database(srv.paths.db);
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare('UPDATE certificates SET expires_at = ? WHERE id = ?').run(
      new Date(Date.now() + 5 * 24 * 3600 * 1000).toISOString(),
      certificateId,
    );
  } finally {
    db.close();
  }
}

const ONE = 'www.acme-one.test';
const TWO = 'shop.acme-two.test';
const BAD = 'nowhere.acme-bad.test';
const MAINT = 'maint.acme-three.test';
let firstSerial = '';
let pidAtStart = 0;

test("a custom domain gets a certificate from pebble through real HTTP-01 at the router; HTTPS verifies against pebble's root", async (t) => {
  pidAtStart = await routerPid();
  // Before: the router serves the platform's self-signed certificate, which pebble's root does not verify.
  await assert.rejects(tlsGet(ONE), /self[- ]signed|unable to verify|certificate/i);
  const added = await ok(['domains:add', ONE, '-a', APP]);
  assert.match(added, /certificate is being ordered/);
  const d = await waitStatus(ONE, 'issued');
  assert.ok(d.expiresAt && Date.parse(d.expiresAt) > Date.now() + 30 * 24 * 3600 * 1000, `expiry ${d.expiresAt}`);
  // pebble really validated: its VA fetched the token from the router's HTTP port and accepted the answer.
  assert.ok(
    pebble
      .output()
      .includes(`Attempting to validate w/ HTTP: http://${ONE}:${srv.httpPort}/.well-known/acme-challenge/`),
    pebble.output().slice(-2000),
  );
  assert.match(pebble.output(), /set VALID by completed challenge/);
  const r = await tlsGet(ONE);
  assert.match(r.issuer, /Pebble Intermediate/);
  assert.equal(r.status, 503, 'the app has no dynos: the router answers for it, over the ACME certificate');
  firstSerial = r.serial;
  const events = JSON.parse(await ok(['events', '-a', APP, '--json'])) as Array<{ action: string; createdAt: string }>;
  const at = (action: string) => Date.parse(events.find((e) => e.action === action)!.createdAt);
  t.diagnostic(
    `domains:add to certificate in the router's table: ${at('cert.acme.issue') - at('domain.add')} ms (first order: includes the account)`,
  );
  const text = await ok(['certs', '-a', APP]);
  assert.match(text, new RegExp(`${ONE.replace(/\./g, '\\.')}\\s+issued\\s+\\d{4}-`));
  // The challenge was withdrawn once settled: nothing is left for the router to answer.
  const pending = JSON.parse(fs.readFileSync(srv.paths.challengesFile, 'utf8')) as {
    challenges: Record<string, unknown>;
  };
  assert.deepEqual(pending.challenges, {});
});

test('a second domain added later gets its own certificate without a router restart', async () => {
  await ok(['domains:add', TWO, '-a', APP]);
  await waitStatus(TWO, 'issued');
  const [one, two] = [await tlsGet(ONE), await tlsGet(TWO)];
  assert.notEqual(two.serial, one.serial, 'one certificate per domain');
  assert.equal(one.serial, firstSerial);
  assert.equal(await routerPid(), pidAtStart, 'same router process');
});

test("a failing validation shows failed with pebble's reason; the other domains keep working", async () => {
  // The mock DNS sends pebble to 127.0.0.2, where nothing listens.
  await pebble.resolve(BAD, ['127.0.0.2']);
  await ok(['domains:add', BAD, '-a', APP]);
  const d = await waitStatus(BAD, 'failed');
  assert.match(d.error ?? '', /127\.0\.0\.2|connection refused|Connection refused/i, `reason: ${d.error}`);
  const text = await ok(['certs', '-a', APP]);
  assert.match(text, /failed: .*(127\.0\.0\.2|refused)/i);
  const events = await ok(['events', '-a', APP]);
  assert.match(events, /could not be issued/);
  assert.equal((await tlsGet(ONE)).serial, firstSerial);
  assert.equal((await tlsGet(TWO)).status, 503);
});

test('challenges are answered while the app is in maintenance mode and https-only (with HSTS) is on', async () => {
  await ok(['maintenance:on', '-a', APP]);
  await ok(['https-only:on', '--hsts', '-a', APP]);
  assert.equal(
    (await plainGet(ONE, '/.well-known/acme-challenge/not-a-pending-token')).status,
    308,
    'only pending tokens bypass https-only',
  );
  await ok(['domains:add', MAINT, '-a', APP]);
  await waitStatus(MAINT, 'issued');
  const r = await tlsGet(MAINT);
  assert.equal(r.status, 503);
  assert.match(r.body, /maintenance/i);
  await ok(['maintenance:off', '-a', APP]);
  await ok(['https-only:off', '-a', APP]);
});

test('a certificate near its expiry is renewed and replaced in the router (new serial, same router process)', async () => {
  const before = await autoDomain(ONE);
  assert.ok(before?.certificateId);
  markNearExpiry(before.certificateId);
  const after = await waitStatus(
    ONE,
    'issued',
    (d) => d.expiresAt !== null && Date.parse(d.expiresAt) > Date.now() + 30 * 24 * 3600 * 1000,
  );
  assert.equal(after.certificateId, before.certificateId, 'renewed in place');
  const served = await waitFor(
    'the router to serve the renewed certificate',
    async () => {
      const r = await tlsGet(ONE);
      return r.serial !== firstSerial ? r : undefined;
    },
    10_000,
  );
  assert.match(served.issuer, /Pebble Intermediate/);
  assert.equal(await routerPid(), pidAtStart);
  assert.match(await ok(['events', '-a', APP]), new RegExp(`Certificate for ${ONE.replace(/\./g, '\\.')} renewed`));
});

test('a renewal that fails shows in slipway status and the events; the old certificate keeps serving', async () => {
  const before = await autoDomain(TWO);
  assert.ok(before?.certificateId);
  const serial = (await tlsGet(TWO)).serial;
  await pebble.resolve(TWO, ['127.0.0.2']);
  markNearExpiry(before.certificateId);
  const d = await waitStatus(TWO, 'issued', (x) => x.error !== null);
  assert.match(d.error ?? '', /127\.0\.0\.2|refused/i);
  const status = JSON.parse(await ok(['status', '--json'])) as {
    certificates: { expiring: Array<{ hosts: string[]; reason: string }> };
  };
  const entry = status.certificates.expiring.find((c) => c.hosts.includes(TWO));
  assert.ok(entry, JSON.stringify(status.certificates));
  assert.match(entry.reason, /renewal failed/);
  assert.match(
    await ok(['status']),
    new RegExp(`Certificates expiring without renewal[\\s\\S]*${TWO.replace(/\./g, '\\.')} expires .*renewal failed`),
  );
  assert.match(await ok(['events', '-a', APP]), /could not be renewed/);
  assert.equal((await tlsGet(TWO)).serial, serial, 'the old certificate still serves');
  assert.match(await ok(['certs', '-a', APP]), /issued \(renewal failed: /);
});

test('certs:auto:disable removes the automatic certificates from the router; enable orders them again', async () => {
  await ok(['certs:auto:disable', '-a', APP]);
  await waitFor(
    'the router to drop the automatic certificate',
    async () => {
      try {
        await tlsGet(MAINT);
        return false;
      } catch {
        return true;
      }
    },
    10_000,
  );
  assert.equal((await autoDomain(MAINT))?.status, 'off');
  await ok(['certs:auto:enable', '-a', APP]);
  await waitStatus(MAINT, 'issued');
  assert.equal((await tlsGet(MAINT)).status, 503);
});

test('HSTS: the router adds Strict-Transport-Security to HTTPS responses of apps with hsts only', async () => {
  const home = tmpDir('slipway-hsts-');
  let router: RouterProc | undefined;
  let backend: Backend | undefined;
  try {
    backend = await startBackend('web.1');
    router = await startRouterProcess(home);
    const gen = writeRoutes(home, {
      strict: { hosts: ['strict.example.com'], backends: [{ dyno: 'web.1', url: backend.url }] },
      lax: { hosts: ['lax.example.com'], backends: [{ dyno: 'web.1', url: backend.url }] },
    });
    // writeRoutes has no hsts field: set it the way the server's publisher writes it.
    const file = path.join(home, 'run', 'routes.json');
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      generatedAt: string;
      apps: Record<string, { hsts?: boolean }>;
    };
    doc.apps.strict!.hsts = true;
    doc.generatedAt = `${gen}-hsts`;
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(doc));
    fs.renameSync(`${file}.tmp`, file);
    await routesApplied(router.httpPort, doc.generatedAt);
    const strict = await tlsGet('strict.example.com', '/', router.httpsPort, null);
    assert.equal(strict.status, 200);
    assert.equal(strict.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(
      (await tlsGet('lax.example.com', '/', router.httpsPort, null)).headers['strict-transport-security'],
      undefined,
    );
    const plain = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port: router!.httpPort, path: '/', headers: { host: 'strict.example.com' } },
          (res) => {
            res.resume();
            resolve(res.headers);
          },
        )
        .on('error', reject);
    });
    assert.equal(plain['strict-transport-security'], undefined, 'never on plain HTTP (RFC 6797 7.2)');
  } finally {
    await router?.stop();
    await backend?.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
});
