import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { readImage } from '../../buildpacks/lifecycle/analyze';
import { openImageStore, type ImageStore } from '../../buildpacks/oci/layout';
import { freePort, startTestServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { api, commitFile, createApp, git, gitUrl, makeRepo, uniq } from './git-helpers';

/**
 * Issue 23 item 1 through the real entry points: a server with SLIPWAY_REGISTRY=on runs Debian's
 * docker-registry (TLS with the platform certificate, htpasswd auth) on a loopback port; apps are
 * pushed with the real git CLI and built on the real bookworm stack; what moved into the registry
 * is read from the registry's own access log (one line a request, log/registry.log) and its
 * storage directory, not from the server's counters. GC runs 20 s after the last deploy (not
 * sooner: a rebase tags its image before its release exists, and a GC in between would untag
 * it) and keeps two releases per app, so v1 of the first app is collected once it has v3.
 */
const SERVE = `perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => $ENV{PORT}, Listen => 16, ReuseAddr => 1) or die "listen: $!"; while ($c = $s->accept) { sysread $c, $_, 4096; print $c "HTTP/1.0 200 OK\\r\\n\\r\\nhello\\n"; close $c }'`;

let srv: TestServer;
let store: ImageStore;
let registryPort = 0;
const dirs: string[] = [];
const appA = uniq('reg-a');
const appB = uniq('reg-b');
let workA = '';
/** Manifest digests of appA's releases, by version. */
const digestsA = new Map<number, string>();

type Rel = { version: number; current: boolean; imageDigest: string };
const currentDigest = async (app: string) =>
  (await api<Rel[]>(srv, 'GET', `/apps/${app}/releases`)).body.find((r) => r.current)!;
const layersOf = async (digest: string) => (await store.readManifest(digest)).layers.map((l) => l.digest);
const configOf = async (digest: string) => (await store.readManifest(digest)).config.digest;

const logFile = () => path.join(srv.paths.logs, 'registry.log');
const logSize = () => fs.statSync(logFile()).size;
/** The registry's access-log lines since byte `from`: method, decoded URI, status. */
function requestsSince(from: number): Array<{ method: string; uri: string; status: number }> {
  const text = fs.readFileSync(logFile()).subarray(from).toString('utf8');
  const out: Array<{ method: string; uri: string; status: number }> = [];
  for (const m of text.matchAll(/"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP\/[\d.]+" (\d{3}) /g))
    out.push({ method: m[1], uri: decodeURIComponent(m[2]), status: Number(m[3]) });
  return out;
}
/** Digests uploaded into REPO (completed PUTs of an upload session). */
const uploadsTo = (reqs: ReturnType<typeof requestsSince>, repo: string) =>
  reqs
    .filter((r) => r.method === 'PUT' && r.status === 201 && r.uri.startsWith(`/v2/${repo}/blobs/uploads/`))
    .map((r) => /digest=(sha256:[a-f0-9]{64})/.exec(r.uri)![1]);
const mountsInto = (reqs: ReturnType<typeof requestsSince>, repo: string) =>
  reqs
    .filter((r) => r.method === 'POST' && r.status === 201 && r.uri.includes('mount='))
    .filter((r) => r.uri.startsWith(`/v2/${repo}/blobs/uploads/`))
    .map((r) => ({ digest: /mount=(sha256:[a-f0-9]{64})/.exec(r.uri)![1], from: /from=([^&]+)/.exec(r.uri)![1] }));
const manifestPuts = (reqs: ReturnType<typeof requestsSince>, repo: string) =>
  reqs.filter((r) => r.method === 'PUT' && r.status === 201 && r.uri.startsWith(`/v2/${repo}/manifests/`));

/** A blob's data file in the registry's storage (filesystem driver layout). */
const blobFile = (digest: string) =>
  path.join(
    srv.paths.registry,
    'data',
    'docker',
    'registry',
    'v2',
    'blobs',
    'sha256',
    digest.slice(7, 9),
    digest.slice(7),
    'data',
  );

/** A request to the registry over TLS, trusting exactly the platform certificate. */
function registryGet(p: string, auth?: string, method = 'GET'): Promise<number> {
  const ca = fs.readFileSync(path.join(srv.paths.certsDir, 'platform.crt'));
  return new Promise((resolve, reject) => {
    const req = https.request(
      `https://127.0.0.1:${registryPort}${p}`,
      {
        method,
        ca,
        checkServerIdentity: () => undefined,
        headers: {
          accept: 'application/vnd.oci.image.manifest.v1+json',
          ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
const credentials = () =>
  JSON.parse(fs.readFileSync(path.join(srv.paths.home, 'state', 'registry-credentials.json'), 'utf8')) as {
    username: string;
    password: string;
  };

async function pushRepo(app: string, dir: string): Promise<string> {
  const r = await git(['push', gitUrl(srv, app), 'main'], dir);
  assert.equal(r.code, 0, `push ${app}: ${r.stderr}`);
  return r.stderr;
}

/** The push line: "-----> Pushing image to the registry (2 layers, 1.2 MB; 5 reused)". */
function pushLine(out: string): { layers: number; size: string; reused: number } {
  const m = /-----> Pushing image to the registry \((\d+) layers?, ([\d.]+ [KM]B); (\d+) reused\)/.exec(out);
  assert.ok(m, `the push names what moved into the registry:\n${out}`);
  return { layers: Number(m[1]), size: m[2], reused: Number(m[3]) };
}

before(async () => {
  registryPort = await freePort();
  srv = await startTestServer({
    env: {
      SLIPWAY_REGISTRY: 'on',
      SLIPWAY_REGISTRY_ADDR: `127.0.0.1:${registryPort}`,
      SLIPWAY_KEEP_RELEASES: '2',
      SLIPWAY_GC_AFTER_DEPLOY_S: '20',
    },
  });
  store = openImageStore(srv.paths.images);
  await createApp(srv, appA);
  await createApp(srv, appB);
  workA = await makeRepo({ Procfile: `web: ${SERVE}\n`, 'message.txt': 'first\n' });
  dirs.push(workA);
});

after(async () => {
  await srv?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('a push stores the image in the registry; a one-line change uploads only the changed layer, config and manifest', async (t) => {
  const from1 = logSize();
  const out1 = await pushRepo(appA, workA);
  const v1 = await currentDigest(appA);
  digestsA.set(v1.version, v1.imageDigest);
  const first = pushLine(out1);
  const reqs1 = requestsSince(from1);
  const layers1 = await layersOf(v1.imageDigest);
  // Everything moved the first time (a fresh registry), and the registry has each blob.
  assert.deepEqual(uploadsTo(reqs1, `apps/${appA}`).sort(), [...layers1, await configOf(v1.imageDigest)].sort());
  assert.equal(first.layers, layers1.length);
  for (const d of [...layers1, await configOf(v1.imageDigest)]) assert.ok(fs.existsSync(blobFile(d)), `${d} stored`);
  const auth = `${credentials().username}:${credentials().password}`;
  assert.equal(await registryGet(`/v2/apps/${appA}/manifests/v${v1.version}`, auth, 'HEAD'), 200);
  assert.equal(await registryGet(`/v2/apps/${appA}/manifests/${v1.imageDigest}`, auth, 'HEAD'), 200);

  await commitFile(workA, 'message.txt', 'second\n');
  const from2 = logSize();
  const out2 = await pushRepo(appA, workA);
  const v2 = await currentDigest(appA);
  digestsA.set(v2.version, v2.imageDigest);
  const layers2 = await layersOf(v2.imageDigest);
  const changed = layers2.filter((l) => !layers1.includes(l));
  const reqs2 = requestsSince(from2);
  const uploaded = uploadsTo(reqs2, `apps/${appA}`);
  // Only the layer holding the changed file, plus the new config; then one manifest.
  assert.equal(changed.length, 1, 'a one-line change changes one layer');
  assert.deepEqual(uploaded.sort(), [...changed, await configOf(v2.imageDigest)].sort());
  assert.equal(manifestPuts(reqs2, `apps/${appA}`).length, 1);
  const second = pushLine(out2);
  assert.equal(second.layers, 1);
  assert.equal(second.reused, layers2.length - 1);
  const man = await store.readManifest(v2.imageDigest);
  const bytes =
    man.layers.filter((l) => changed.includes(l.digest)).reduce((n, l) => n + l.size, 0) +
    man.config.size +
    fs.statSync(store.blobPath(v2.imageDigest)).size;
  t.diagnostic(
    `one-line change: ${bytes} bytes into the registry (${second.size}); image ${man.layers.reduce((n, l) => n + l.size, 0)} bytes in ${man.layers.length} layers`,
  );
});

test("two apps share the run image's blobs: the second app's push mounts them from the first", async () => {
  const run = (await readImage(store, 'stacks/bookworm-run:latest'))!;
  const runLayers = run.manifest.layers.map((l) => l.digest);
  const work = await makeRepo({ Procfile: `web: ${SERVE}\n`, 'message.txt': 'other app\n' });
  dirs.push(work);
  const from = logSize();
  const out = await pushRepo(appB, work);
  const reqs = requestsSince(from);
  const mounted = mountsInto(reqs, `apps/${appB}`);
  for (const l of runLayers)
    assert.ok(
      mounted.some((m) => m.digest === l && m.from === `apps/${appA}`),
      `run layer ${l} mounted from apps/${appA} (201)`,
    );
  const uploaded = uploadsTo(reqs, `apps/${appB}`);
  for (const l of runLayers) assert.ok(!uploaded.includes(l), 'the run image is never uploaded twice');
  assert.ok(pushLine(out).reused >= runLayers.length);
});

test('the local dockerd pulls a pushed image from the registry (TLS on loopback, the platform credential), as a Swarm node would', async () => {
  const docker = new Docker();
  const { username, password } = credentials();
  const ref = `127.0.0.1:${registryPort}/apps/${appB}@${(await currentDigest(appB)).imageDigest}`;
  const pull = async (auth: { username: string; password: string }) => {
    const stream = await docker.pull(ref, { authconfig: { ...auth, serveraddress: `127.0.0.1:${registryPort}` } });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
        const failed = events?.find((e) => e.error);
        if (err || failed) reject(err ?? new Error(failed!.error));
        else resolve();
      }),
    );
  };
  await assert.rejects(pull({ username, password: 'wrong' }), /unauthorized|authentication required|401/i);
  await pull({ username, password });
  try {
    const img = await docker.getImage(ref).inspect();
    assert.equal(img.Config.Labels?.['io.slipway.app'], appB);
  } finally {
    await docker
      .getImage(ref)
      .remove()
      .catch(() => undefined);
  }
});

test('a rebase pushes no app layer: its config and manifest, and the new run layer once (mounted by the next app)', async () => {
  // A "stack update" made fast as the rebase test does it: the run image plus one small layer.
  const base = (await readImage(store, 'stacks/bookworm-run:latest'))!;
  const p = pack();
  p.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  p.entry({ name: 'etc/slipway-registry-test', mode: 0o644, mtime: new Date(0) }, `update ${Date.now()}\n`);
  p.finalize();
  const layer = await store.putLayer(p as unknown as Readable);
  const layers = base.manifest.layers.map((d, i) => ({ descriptor: d, diffId: base.config.rootfs.diff_ids[i] }));
  const img = await store.writeImage({ ...base.config, history: [...(base.config.history ?? [])] }, [...layers, layer]);
  await store.tag('stacks/bookworm-run:registry-test', img.manifest);
  await store.tag('stacks/bookworm-run:latest', img.manifest);

  const before = await currentDigest(appA);
  const from = logSize();
  const r = await api<{ status: string }>(srv, 'POST', `/apps/${appA}/rebase`);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.status, 'rebased');
  const after = await currentDigest(appA);
  digestsA.set(after.version, after.imageDigest);
  assert.notEqual(after.imageDigest, before.imageDigest);
  const reqs = requestsSince(from);
  assert.deepEqual(
    uploadsTo(reqs, `apps/${appA}`).sort(),
    [layer.descriptor.digest, await configOf(after.imageDigest)].sort(),
    'only the new run layer and the config moved',
  );
  assert.equal(manifestPuts(reqs, `apps/${appA}`).length, 1);

  const fromB = logSize();
  const rb = await api<{ status: string }>(srv, 'POST', `/apps/${appB}/rebase`);
  assert.equal(rb.body.status, 'rebased', JSON.stringify(rb.body));
  const afterB = await currentDigest(appB);
  const reqsB = requestsSince(fromB);
  assert.deepEqual(uploadsTo(reqsB, `apps/${appB}`), [await configOf(afterB.imageDigest)], 'B uploads its config only');
  assert.ok(mountsInto(reqsB, `apps/${appB}`).some((m) => m.digest === layer.descriptor.digest));
});

test('the registry refuses wrong or missing credentials; the credential files are private and never logged', async () => {
  const { username, password } = credentials();
  assert.equal(await registryGet('/v2/'), 401);
  assert.equal(await registryGet('/v2/', `${username}:wrong-${password}`), 401);
  assert.equal(await registryGet('/v2/', `someone:${password}`), 401);
  assert.equal(await registryGet(`/v2/apps/${appA}/tags/list`, `${username}:nope`), 401);
  assert.equal(await registryGet('/v2/', `${username}:${password}`), 200);
  for (const f of ['registry-credentials.json', 'registry.htpasswd'])
    assert.equal(fs.statSync(path.join(srv.paths.home, 'state', f)).mode & 0o777, 0o600, f);
  assert.doesNotMatch(
    fs.readFileSync(path.join(srv.paths.home, 'state', 'registry.htpasswd'), 'utf8'),
    new RegExp(password),
  );
  assert.ok(!fs.readFileSync(logFile(), 'utf8').includes(password), 'not in the registry log');
  assert.ok(!srv.output().includes(password), 'not in the server output');
});

test("GC follows the store's: the manifest of a release no longer kept is deleted and its unique blobs removed", async () => {
  const v1 = digestsA.get(1)!;
  const v2 = digestsA.get(2)!;
  const keptLayers = new Set([...(await layersOf(v2)), ...(await layersOf(digestsA.get(3)!))]);
  const gone = [...(await layersOf(v1)).filter((l) => !keptLayers.has(l)), await configOf(v1)];
  assert.ok(gone.length >= 2, 'v1 has a layer and a config of its own');
  const auth = `${credentials().username}:${credentials().password}`;
  await waitFor(
    'v1 collected from the registry',
    async () =>
      (await registryGet(`/v2/apps/${appA}/manifests/${v1}`, auth, 'HEAD')) === 404 &&
      gone.every((d) => !fs.existsSync(blobFile(d))),
    { timeoutMs: 90_000, intervalMs: 500, context: () => fs.readFileSync(logFile(), 'utf8').slice(-3000) },
  );
  // What the kept releases need is still there, and still pullable.
  for (const d of keptLayers) assert.ok(fs.existsSync(blobFile(d)), `${d} kept`);
  assert.equal(await registryGet(`/v2/apps/${appA}/manifests/${digestsA.get(3)!}`, auth, 'HEAD'), 200);
  // After the read-only sweep the registry takes pushes again.
  await commitFile(workA, 'message.txt', 'third\n');
  pushLine(await pushRepo(appA, workA));
});

test('a server killed without stopping its registry starts again: the leftover is stopped, a stale pid file is ignored', async () => {
  const pidFile = path.join(srv.paths.run, 'registry.pid');
  const old = Number(fs.readFileSync(pidFile, 'utf8'));
  const server = Number(fs.readFileSync(path.join(srv.paths.run, 'test-server.pid'), 'utf8'));
  process.kill(server, 'SIGKILL');
  await waitFor('server gone', () => procState(server) === '' || procState(server) === 'Z');
  assert.equal(procState(old) !== '' && procState(old) !== 'Z', true, 'the registry outlived the killed server');
  // The pid file now names some other process (this test): not the server's to stop.
  fs.writeFileSync(pidFile, String(process.pid));
  await srv.restartServer();
  const fresh = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.notEqual(fresh, old);
  assert.notEqual(fresh, process.pid);
  await waitFor('leftover registry stopped', () => procState(old) === '' || procState(old) === 'Z');
  const auth = `${credentials().username}:${credentials().password}`;
  assert.equal(await registryGet('/v2/', auth), 200);
  // The registry's content survived: the current release is still there.
  assert.equal(
    await registryGet(`/v2/apps/${appA}/manifests/${(await currentDigest(appA)).imageDigest}`, auth, 'HEAD'),
    200,
  );

  // A registry that lost its storage is refilled with the current releases at the next start.
  const b = await currentDigest(appB);
  fs.rmSync(path.join(srv.paths.registry, 'data', 'docker'), { recursive: true, force: true });
  await srv.restartServer();
  await waitFor(
    `apps/${appB} v${b.version} pushed again`,
    async () => (await registryGet(`/v2/apps/${appB}/manifests/v${b.version}`, auth, 'HEAD')) === 200,
  );
  for (const d of await layersOf(b.imageDigest)) assert.ok(fs.existsSync(blobFile(d)), `${d} back in the registry`);
});

function procState(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[0] ?? '';
  } catch {
    return '';
  }
}
