import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import express from 'express';
import { pack } from 'tar-stream';
import type { LayerRef } from '../../buildpacks/oci/media-types';
import { createRegistryRouter } from '../../server/images/registry';
import { newRegistryToken } from '../../server/images/registry-auth';
import { createTestHome, type TestHome } from '../helpers/home';
import { startTestServer, type TestServer } from '../helpers/server';
import { api, createUser, git, gitUrl, makeRepo, uniq } from '../integration/git-helpers';

/**
 * The image registry (/v2/) is not open (issue 12, item 3). Against a real server with an app a
 * non-admin user pushed: anonymous HTTP and `docker pull` get 401, while the server's own pull
 * (the app's dyno runs) works. Against the registry router over a store holding two apps' images:
 * a repository serves only the manifests and blobs its own tags reach.
 */
const exec = promisify(execFile);
const FIX = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
let srv: TestServer;
const app = uniq('regauth');
let digest = '';
let tag = '';
const dirs: string[] = [];

let home: TestHome;
let local: Server;
let base = '';
const token = newRegistryToken();
const auth = { Authorization: `Basic ${Buffer.from(`slipway:${token}`).toString('base64')}` };
const images: Record<string, { manifest: string; layer: string; shared: string }> = {};

async function appImage(name: string): Promise<void> {
  const run = (await home.store.resolve('stacks/bookworm-run:latest'))!;
  const runManifest = await home.store.readManifest(run.digest);
  const runConfig = await home.store.readJson<{ rootfs: { diff_ids: string[] } } & Record<string, unknown>>(
    runManifest.config.digest,
  );
  const tar = pack();
  tar.entry({ name: 'workspace/owner.txt' }, `${name}\n`);
  tar.finalize();
  const own = await home.store.putLayer(tar as unknown as Readable);
  const layers: LayerRef[] = runManifest.layers.map((l, i) => ({
    descriptor: l,
    diffId: runConfig.rootfs.diff_ids[i],
  }));
  const { manifest } = await home.store.writeImage(runConfig as never, [...layers, own]);
  await home.store.tag(`apps/${name}:b1`, manifest);
  images[name] = { manifest: manifest.digest, layer: own.descriptor.digest, shared: runManifest.layers[0].digest };
}

before(async () => {
  srv = await startTestServer();
  const user = await createUser(srv, `${uniq('tenant')}@example.com`);
  assert.equal((await api(srv, 'POST', '/apps', { name: app }, user)).status, 201);
  const repo = await makeRepo({}, path.join(FIX, 'apps', 'tiny-web'));
  dirs.push(repo);
  const push = await git(['push', gitUrl(srv, app, user), 'main'], repo);
  assert.equal(push.code, 0, push.stderr);
  const [b] = (
    await api<Array<{ id: string; imageDigest: string }>>(srv, 'GET', `/apps/${app}/builds`, undefined, user)
  ).body;
  digest = b.imageDigest;
  tag = b.id;

  home = await createTestHome('regscope');
  await appImage('a');
  await appImage('b');
  const e = express();
  e.use(createRegistryRouter({ store: home.store, token }));
  local = createServer(e);
  await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(local.address() as AddressInfo).port}`;
});

after(async () => {
  await srv?.stop();
  await new Promise((r) => local?.close(r));
  home?.cleanup();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('anonymous or wrong-token HTTP gets 401 with a Basic challenge, for /v2/, manifests and blobs', async () => {
  const registry = `http://127.0.0.1:${srv.apiPort}/v2`;
  const manifest = `${registry}/${`apps/${app}`}/manifests/${digest}`;
  const urls = [
    `${registry}/`,
    manifest,
    `${registry}/apps/${app}/manifests/${tag}`,
    `${registry}/apps/${app}/tags/list`,
  ];
  const wrong = { Authorization: `Basic ${Buffer.from(`slipway:${newRegistryToken()}`).toString('base64')}` };
  for (const url of urls) {
    for (const headers of [{}, wrong, { Authorization: 'Bearer x' }]) {
      const res = await fetch(url, { headers });
      assert.equal(res.status, 401, `${url} ${JSON.stringify(headers)}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      const body = (await res.json()) as { errors: Array<{ code: string }> };
      assert.equal(body.errors[0].code, 'UNAUTHORIZED');
    }
  }
  // Blobs too (a manifest is a blob), and with the curl binary an attacker would use.
  for (const url of [`${registry}/apps/${app}/blobs/${digest}`, manifest]) {
    const { stdout } = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', url]);
    assert.equal(stdout, '401', url);
  }
});

test("docker pull without credentials is refused; the platform's own pull ran the app", async () => {
  const name = `127.0.0.1:${srv.apiPort}/apps/${app}:${tag}`;
  const r = await exec('docker', ['pull', name], { timeout: 120_000 }).then(
    (o) => ({ code: 0, out: o.stdout + o.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? 1,
      out: `${e.stdout ?? ''}${e.stderr ?? ''}`,
    }),
  );
  if (r.code === 0) await exec('docker', ['rmi', name]).catch(() => {});
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /unauthorized|no basic auth credentials|authentication required/i);
  // The server pulled with its token: the web dyno runs the image from this registry.
  const deadline = Date.now() + 60_000;
  let dynos: Array<{ name: string; state: string }> = [];
  while (Date.now() < deadline) {
    dynos = (await api<Array<{ name: string; state: string }>>(srv, 'GET', `/apps/${app}/dynos`)).body;
    if (dynos.some((d) => d.name === 'web.1' && d.state === 'up')) break;
    await new Promise((res) => setTimeout(res, 300));
  }
  assert.ok(
    dynos.some((d) => d.name === 'web.1' && d.state === 'up'),
    JSON.stringify(dynos),
  );
});

test('a repository serves only the blobs and manifests its tags reference', async () => {
  const get = (p: string) => fetch(`${base}/v2/${p}`, { headers: auth });
  // Its own: manifest by tag and digest, its layer, the shared stack layer.
  assert.equal((await get(`apps/a/manifests/b1`)).status, 200);
  assert.equal((await get(`apps/a/manifests/${images.a.manifest}`)).status, 200);
  assert.equal((await get(`apps/a/blobs/${images.a.layer}`)).status, 200);
  assert.equal((await get(`apps/a/blobs/${images.a.shared}`)).status, 200);
  // B's, asked for under A (or a repository with no tags): unknown, like a digest that does not exist.
  for (const p of [
    `apps/a/blobs/${images.b.layer}`,
    `apps/a/manifests/${images.b.manifest}`,
    `apps/nobody/blobs/${images.a.shared}`,
  ]) {
    const res = await get(p);
    assert.equal(res.status, 404, p);
    assert.match(
      ((await res.json()) as { errors: Array<{ code: string }> }).errors[0].code,
      /^(BLOB|MANIFEST)_UNKNOWN$/,
    );
  }
  const head = await fetch(`${base}/v2/apps/a/blobs/${images.b.layer}`, { method: 'HEAD', headers: auth });
  assert.equal(head.status, 404);
  assert.equal((await get(`apps/b/blobs/${images.b.layer}`)).status, 200);
});
