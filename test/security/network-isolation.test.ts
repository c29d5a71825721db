import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { build } from '../../buildpacks/lifecycle';
import { createTestHome, type TestHome } from '../helpers/home';
import { DIST, startTestServer, type TestServer } from '../helpers/server';
import { api, createUser, git, gitUrl, makeRepo, uniq } from '../integration/git-helpers';

/**
 * Network isolation between tenants (issue 12, item 2), through the real entry points: two
 * non-admin users each `git push` an app to one real server, then a one-off dyno of app A (and a
 * build) tries to connect to app B's web dyno by its container IP and through the bridge gateway
 * to its published port, to the platform's API port, and to 169.254.169.254. The server listens
 * on 0.0.0.0 here, as an operator serving the public does, so the API port is open on the gateway
 * address unless the firewall closes it. Every probe answers "reached" or "blocked".
 */
const exec = promisify(execFile);
const docker = new Docker();
const CLI = path.join(DIST, 'cli', 'main.js');
const FIX = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');

// tiny-web: a Procfile-only app whose web process (perl, in the run image) answers 200 to anything.

// The same probe as the cnb-netprobe buildpack: GATEWAY stands for the container's default gateway.
const PROBE = `gw=$(awk '$2=="00000000"{print $3; exit}' /proc/net/route); gw=$(printf '%d.%d.%d.%d' 0x\${gw:6:2} 0x\${gw:4:2} 0x\${gw:2:2} 0x\${gw:0:2}); for t in $PROBE_TARGETS; do t=\${t//GATEWAY/$gw}; if code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$t") && [ "$code" != 000 ]; then echo "probe $t reached"; else echo "probe $t blocked"; fi; done`;

let srv: TestServer;
let home: TestHome | undefined;
const users: Record<string, string> = {};
const appA = uniq('neta');
const appB = uniq('netb');
let repo: string;
let bIp = '';
let bPublished = 0;
const dirs: string[] = [];

async function cli(args: string[], token: string, timeout = 60_000): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env: srv.cliEnv(token), timeout });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Runs the probe in a one-off dyno of the app (its own network, like every dyno of the app). */
async function probeFrom(app: string, token: string, targets: string[]): Promise<string> {
  const r = await cli(['run', '-a', app, '--', 'bash', '-c', `PROBE_TARGETS='${targets.join(' ')}'; ${PROBE}`], token);
  assert.equal(r.code, 0, r.out);
  return r.out;
}

async function appNetworks(app: string): Promise<Docker.NetworkInspectInfo[]> {
  return docker.listNetworks({ filters: { label: [`io.slipway.home=${srv.home}`, `io.slipway.app=${app}`] } });
}

function iptables(args: string[]): string | undefined {
  try {
    return execFileSync('iptables', ['-w', '10', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

before(async () => {
  srv = await startTestServer({ env: { SLIPWAY_BIND: '0.0.0.0', SLIPWAY_BUILD_CONCURRENCY: '2' } });
  for (const [who, app] of [
    ['a', appA],
    ['b', appB],
  ]) {
    users[app] = await createUser(srv, `${uniq(`tenant-${who}`)}@example.com`);
    const r = await api(srv, 'POST', '/apps', { name: app }, users[app]);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  repo = await makeRepo({}, path.join(FIX, 'apps', 'tiny-web'));
  dirs.push(repo);
  const pushes = await Promise.all(
    [appA, appB].map((app) => git(['push', gitUrl(srv, app, users[app]), 'main'], repo)),
  );
  for (const p of pushes) assert.equal(p.code, 0, p.stderr);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !bPublished) {
    const dynos = (
      await api<Array<{ name: string; state: string; address: string | null; containerId: string }>>(
        srv,
        'GET',
        `/apps/${appB}/dynos`,
        undefined,
        users[appB],
      )
    ).body;
    const web = dynos.find((d) => d.name === 'web.1' && d.state === 'up' && d.address);
    if (web) {
      bPublished = Number(web.address!.split(':')[1]);
      const info = await docker.getContainer(web.containerId).inspect();
      bIp = Object.values(info.NetworkSettings.Networks)[0].IPAddress;
    } else await new Promise((r) => setTimeout(r, 300));
  }
  assert.ok(bPublished && bIp, `app ${appB} has no web dyno up:\n${srv.output()}`);
});

after(async () => {
  await srv?.stop();
  home?.cleanup();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('each app has its own labelled Docker network, and its dynos are on it alone', async () => {
  const [netA] = await appNetworks(appA);
  const [netB] = await appNetworks(appB);
  assert.ok(netA && netB, 'both apps have a network labelled with their home and name');
  assert.notEqual(netA.Id, netB.Id);
  assert.equal(netB.Labels?.['io.slipway.managed'], 'true');
  const web = (
    await docker.listContainers({ filters: { label: [`io.slipway.home=${srv.home}`, `io.slipway.app=${appB}`] } })
  )[0];
  assert.deepEqual(Object.keys(web.NetworkSettings.Networks), [netB.Name]);
});

test("a dyno of app A cannot connect to app B's dyno (container IP, gateway to its published port) nor the API port; B's own dyno can", async () => {
  const fromA = await probeFrom(appA, users[appA], [
    `http://${bIp}:5000/`,
    `http://GATEWAY:${bPublished}/`,
    `http://GATEWAY:${srv.apiPort}/healthz`,
  ]);
  assert.match(fromA, new RegExp(`probe http://${bIp.replace(/\./g, '\\.')}:5000/ blocked`), fromA);
  assert.match(fromA, new RegExp(`probe http://[0-9.]+:${bPublished}/ blocked`), fromA);
  assert.match(fromA, new RegExp(`probe http://[0-9.]+:${srv.apiPort}/healthz blocked`), fromA);
  assert.doesNotMatch(fromA, /reached/, fromA);
  // The probe can succeed: B's one-off reaches B's web dyno on their shared network, and the
  // host (the router's path) still reaches it on its loopback-published port.
  const fromB = await probeFrom(appB, users[appB], [`http://${bIp}:5000/`]);
  assert.match(fromB, /reached/, fromB);
  assert.equal((await fetch(`http://127.0.0.1:${bPublished}/`)).status, 200);
});

test('a build cannot reach a dyno, the platform or 169.254.169.254, and still reaches the package registries', async () => {
  home = await createTestHome('netbuild');
  const lines: string[] = [];
  await build({
    appName: 'netprobe',
    sourceDir: repo,
    workspaceDir: path.join(home.builds, 'b1'),
    cacheDir: path.join(home.caches, 'netprobe'),
    store: home.store,
    docker,
    stack: 'bookworm',
    imageRef: 'apps/netprobe:b1',
    env: {
      PROBE_TARGETS: [
        `http://${bIp}:5000/`,
        `http://GATEWAY:${bPublished}/`,
        `http://GATEWAY:${srv.apiPort}/healthz`,
        'http://169.254.169.254/',
        'https://registry.npmjs.org/semver',
      ].join(' '),
    },
    caBundle: '/etc/ssl/certs/ca-certificates.crt',
    labels: { 'io.slipway.home': home.home },
    allowHostPaths: true,
    output: (l) => lines.push(l),
    buildpacks: [path.join(FIX, 'buildpacks', 'cnb-netprobe')],
  });
  const out = lines.join('\n');
  assert.match(out, new RegExp(`probe http://${bIp.replace(/\./g, '\\.')}:5000/ blocked`), out);
  assert.match(out, new RegExp(`probe http://[0-9.]+:${bPublished}/ blocked`), out);
  assert.match(out, new RegExp(`probe http://[0-9.]+:${srv.apiPort}/healthz blocked`), out);
  assert.match(out, /probe http:\/\/169\.254\.169\.254\/ blocked/, out);
  assert.match(out, /probe https:\/\/registry\.npmjs\.org\/semver reached/, out);
});

test('169.254.0.0/16 and the host are closed to dynos by rules the server installed at start (once), or the server warned', async () => {
  if (iptables(['-S']) === undefined) {
    // No usable iptables on this host: the platform must have said so, once.
    assert.equal(
      srv.output().match(/warning: the network firewall rules could not be installed/g)?.length,
      1,
      srv.output(),
    );
    return;
  }
  assert.match(iptables(['-S', 'SLIPWAY-FORWARD']) ?? '', /-A SLIPWAY-FORWARD -d 169\.254\.0\.0\/16 -i slw\+ -j DROP/);
  assert.match(iptables(['-S', 'SLIPWAY-INPUT']) ?? '', /-A SLIPWAY-INPUT -i slw\+ -j DROP/);
  // Idempotent: however many servers started on this host, one jump each.
  assert.equal((iptables(['-S', 'DOCKER-USER']) ?? '').match(/-j SLIPWAY-FORWARD/g)?.length, 1);
  assert.equal((iptables(['-S', 'INPUT']) ?? '').match(/-j SLIPWAY-INPUT/g)?.length, 1);
  const fromA = await probeFrom(appA, users[appA], ['http://169.254.169.254/latest/meta-data/']);
  assert.match(fromA, /probe http:\/\/169\.254\.169\.254\/latest\/meta-data\/ blocked/, fromA);
});

test('destroying an app removes its network', async () => {
  assert.equal((await appNetworks(appA)).length, 1);
  const r = await api(srv, 'DELETE', `/apps/${appA}`, undefined, users[appA]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(await appNetworks(appA), []);
});
