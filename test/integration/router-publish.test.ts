import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { homePaths, loadConfig } from '../../common/config';
import type { RouteBackend } from '../../common/routes-file';
import { createRoutesPublisher } from '../../server/routes/publish';
import { openState, type State } from '../../server/state';
import { tmpDir } from '../helpers/home';
import {
  get,
  routesApplied,
  startBackend,
  startRouterProcess,
  waitFor,
  type Backend,
  type RouterProc,
} from './router-harness';

function makeCert(dir: string, name: string, host: string): { cert: string; key: string } {
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
      '3',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
    ],
    { stdio: 'ignore' },
  );
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}

function servedCommonName(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      resolve(String(s.getPeerCertificate().subject.CN));
      s.end();
    });
    s.on('error', reject);
  });
}

// The server's publisher (real SQLite state) feeding the real router process.
describe('routes publisher: state → run/routes.json + run/certs → router', () => {
  const home = tmpDir('slipway-router-pub-');
  const paths = homePaths(home);
  const config = loadConfig({ SLIPWAY_HOME: home, SLIPWAY_DOMAIN: 'localhost' });
  const work = tmpDir('slipway-router-pem-');
  let state: State;
  let router: RouterProc;
  let dyno: Backend;
  let backends: Record<string, RouteBackend[]> = {};

  before(async () => {
    state = openState({ dbFile: paths.db, keyFile: paths.keyFile });
    dyno = await startBackend('pub-web-1');
  });
  after(async () => {
    await router?.stop();
    await dyno.close();
    state.db.close();
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('domains and certificates are validated when added', () => {
    const user = state.users.create('owner@example.com', true);
    const app = state.apps.create({ name: 'pubapp', ownerId: user.id, stack: 'bookworm' });
    state.apps.create({ name: 'other-app', ownerId: user.id, stack: 'bookworm' });
    assert.equal(state.domains.add(app.id, 'WWW.Pub.Test').hostname, 'www.pub.test');
    assert.throws(
      () => state.domains.add(state.apps.get('other-app')!.id, 'www.pub.test'),
      /already added to app pubapp/,
    );
    assert.throws(
      () => state.domains.add(app.id, 'other-app.localhost', { platformDomain: 'localhost' }),
      /under the platform domain/,
    );
    assert.throws(() => state.domains.add(app.id, 'bad host'), /not a valid domain/);
    const good = makeCert(work, 'pub', 'www.pub.test');
    const stranger = makeCert(work, 'stranger', 'www.pub.test');
    assert.throws(
      () => state.certificates.add({ appId: app.id, certPem: good.cert, keyPem: stranger.key }),
      /does not match/,
    );
    assert.throws(
      () => state.certificates.add({ appId: app.id, certPem: 'nope', keyPem: good.key }),
      /no PEM certificate/,
    );
    const row = state.certificates.add({ appId: app.id, certPem: good.cert, keyPem: good.key });
    assert.deepEqual(row.hostnames, ['www.pub.test']);
    assert.ok(new Date(row.expiresAt).getTime() > Date.now());
    const raw = state.db.prepare('SELECT key_enc FROM certificates WHERE id = ?').get(row.id) as { key_enc: Buffer };
    assert.ok(!raw.key_enc.toString('latin1').includes('PRIVATE KEY'), 'key encrypted at rest');
  });

  test('publish renders the table and PEMs; the router serves them; changes reach it fast', async () => {
    const app = state.apps.require('pubapp');
    state.formation.setQuantities(app.id, { web: 1 }, 'standard-1x');
    backends = { pubapp: [{ dyno: 'web.1', url: dyno.url, release: 3 }] };
    // Another app uploads a certificate for pubapp's domain: stored, but never served for it.
    const squatter = makeCert(work, 'squat', 'www.pub.test');
    state.certificates.add({ appId: state.apps.get('other-app')!.id, certPem: squatter.cert, keyPem: squatter.key });
    const publisher = createRoutesPublisher({ state, paths, config });
    const web = new Map(Object.entries(backends));
    await Promise.all([publisher.publish(web), publisher.publish(), publisher.publish()]);
    const doc = JSON.parse(fs.readFileSync(paths.routesFile, 'utf8'));
    assert.deepEqual(doc.apps.pubapp, {
      hosts: ['pubapp.localhost', 'www.pub.test'],
      maintenance: false,
      httpsOnly: false,
      webQuantity: 1,
      backends: [{ dyno: 'web.1', url: dyno.url, release: 3 }],
    });
    assert.equal(doc.apps['other-app'].webQuantity, 0);
    assert.equal(doc.certificates.length, 1, "the other app's certificate for www.pub.test is not served");
    const cert = doc.certificates[0];
    assert.deepEqual(cert.hosts, ['www.pub.test']);
    assert.equal(fs.statSync(path.join(home, cert.keyFile)).mode & 0o777, 0o600);
    assert.ok(fs.readFileSync(path.join(home, cert.keyFile), 'utf8').includes('PRIVATE KEY'));

    router = await startRouterProcess(home);
    assert.equal(JSON.parse((await get(router.httpPort, 'www.pub.test')).body).name, 'pub-web-1');
    assert.equal((await get(router.httpPort, 'other-app.localhost')).status, 503, 'no web dynos: H14');
    assert.equal(await servedCommonName(router.httpsPort, 'www.pub.test'), 'www.pub.test');

    // Maintenance on: published and in effect (how fast a change applies: bench/router.ts).
    state.apps.setMaintenance(app.id, true);
    await publisher.publish();
    await waitFor('maintenance applied', async () => (await get(router.httpPort, 'pubapp.localhost')).status === 503, {
      timeoutMs: 5000,
      intervalMs: 20,
    });

    // Certificate and domain removed: PEMs deleted, host no longer routed.
    state.certificates.remove(app.id, state.certificates.listForApp(app.id)[0].id);
    const other = state.apps.get('other-app')!.id;
    state.certificates.remove(other, state.certificates.listForApp(other)[0].id);
    state.domains.remove(app.id, 'www.pub.test');
    await publisher.publish();
    await routesApplied(router.httpPort, JSON.parse(fs.readFileSync(paths.routesFile, 'utf8')).generatedAt);
    assert.equal((await get(router.httpPort, 'www.pub.test')).status, 404);
    assert.deepEqual(
      fs.readdirSync(paths.certsDir).filter((f) => /^\d+\./.test(f)),
      [],
    );
  });
});
