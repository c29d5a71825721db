import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import Docker from 'dockerode';
import express from 'express';
import { build } from '../../buildpacks/lifecycle';
import { createRegistryRouter } from '../../server/images/registry';
import { ensureImageInDocker } from '../../server/images/pull';
import { newRegistryToken } from '../../server/images/registry-auth';
import { collectStoreGarbage } from '../../server/images/gc';
import { createTestHome, type TestHome } from '../helpers/home';

const FIX = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const docker = new Docker();
let home: TestHome;
let server: Server;
let base: string;
let host: string;
let built: Awaited<ReturnType<typeof build>>;
const pulled: string[] = [];
const token = newRegistryToken();
// What dockerd sends once challenged (the registry answers nothing without it: test/security/registry-auth).
const auth = { Authorization: `Basic ${Buffer.from(`slipway:${token}`).toString('base64')}` };
const authed = (url: string, init: RequestInit = {}) =>
  fetch(url, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });

before(async () => {
  home = await createTestHome('registry');
  const app = express();
  app.use(createRegistryRouter({ store: home.store, token }));
  server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  base = `http://${host}`;
  built = await build({
    appName: 'reg-app',
    sourceDir: path.join(FIX, 'apps', 'lifecycle-hello'),
    workspaceDir: path.join(home.builds, 'b1'),
    cacheDir: path.join(home.caches, 'reg-app'),
    store: home.store,
    docker,
    stack: 'bookworm',
    imageRef: 'apps/reg-app:b1',
    env: {},
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.home },
    allowHostPaths: true,
    output: () => {},
    buildpacks: [path.join(FIX, 'buildpacks', 'cnb-greeter')],
  });
});

after(async () => {
  for (const name of pulled) {
    try {
      execFileSync('docker', ['rmi', '-f', name], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }
  await new Promise((r) => server?.close(r));
  home?.cleanup();
});

test('GET /v2/ answers with the registry API version header', async () => {
  const res = await authed(`${base}/v2/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
});

test('manifests by tag and digest: exact bytes, media type, digest and length headers; HEAD has no body', async () => {
  for (const ref of ['b1', built.manifestDigest]) {
    const head = await authed(`${base}/v2/apps/reg-app/manifests/${ref}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), built.manifestDigest);
    assert.equal(head.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
    const bytes = await home.store.readBlob(built.manifestDigest);
    assert.equal(head.headers.get('content-length'), String(bytes.length));
    const get = await authed(`${base}/v2/apps/reg-app/manifests/${ref}`);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), bytes);
  }
  const missing = await authed(`${base}/v2/apps/reg-app/manifests/nope`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).errors[0].code, 'MANIFEST_UNKNOWN');
});

test('blobs: HEAD with Content-Length, GET, Range; tags/list; writes are refused', async () => {
  const m = await home.store.readManifest(built.manifestDigest);
  const d = m.layers[m.layers.length - 1].digest;
  const head = await authed(`${base}/v2/apps/reg-app/blobs/${d}`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), String(m.layers[m.layers.length - 1].size));
  assert.equal(head.headers.get('docker-content-digest'), d);
  const part = await authed(`${base}/v2/apps/reg-app/blobs/${d}`, { headers: { Range: 'bytes=0-9' } });
  assert.equal(part.status, 206);
  assert.equal((await part.arrayBuffer()).byteLength, 10);
  assert.deepEqual(await (await authed(`${base}/v2/apps/reg-app/tags/list`)).json(), {
    name: 'apps/reg-app',
    tags: ['b1'],
  });
  assert.equal((await authed(`${base}/v2/apps/reg-app/blobs/uploads/`, { method: 'POST' })).status, 405);
  assert.equal((await authed(`${base}/v2/apps/reg-app/blobs/sha256:${'0'.repeat(64)}`)).status, 404);
});

test('docker pulls the image by digest from the registry and it runs; a second ensure does not pull again', async () => {
  const name = await ensureImageInDocker({
    docker,
    registryHost: host,
    registryToken: token,
    store: home.store,
    ref: 'apps/reg-app:b1',
  });
  pulled.push(name);
  assert.equal(name, `${host}/apps/reg-app@${built.manifestDigest}`);
  const out = execFileSync('docker', ['run', '--rm', '--label', `io.slipway.home=${home.home}`, name], {
    encoding: 'utf8',
    timeout: 60_000,
  }).trim();
  assert.equal(out, 'hello from greet: world');
  const t0 = Date.now();
  assert.equal(
    await ensureImageInDocker({
      docker,
      registryHost: host,
      registryToken: token,
      store: home.store,
      ref: `apps/reg-app@${built.manifestDigest}`,
    }),
    name,
  );
  assert.ok(Date.now() - t0 < 1000);
});

test('garbage collection keeps what kept refs reach and removes the rest', async () => {
  const before = await home.store.readManifest(built.manifestDigest);
  const kept = await collectStoreGarbage(home.store, ['apps/reg-app:b1'], { graceMs: 0 });
  assert.deepEqual(kept.untagged, []);
  for (const l of before.layers) assert.ok(home.store.hasBlob(l.digest));
  const gone = await collectStoreGarbage(home.store, [], { graceMs: 0 });
  assert.deepEqual(gone.untagged, ['apps/reg-app:b1']);
  assert.ok(gone.removedBlobs >= 3, `removed ${gone.removedBlobs}`);
  assert.ok(!home.store.hasBlob(built.manifestDigest));
  // The stack images are untouched.
  const run = await home.store.resolve('stacks/bookworm-run:latest');
  assert.ok(run && home.store.hasBlob(run.digest));
});
