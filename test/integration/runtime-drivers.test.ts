import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { PassThrough } from 'node:stream';
import type { SlipwayConfig } from '../../common/config';
import { isSlipwayError } from '../../common/errors';
import { createRoutesPublisher } from '../../server/routes/publish';
import { httpGet } from '../../server/runtime/healthchecks';
import { ensureSwarm, type TestSwarm } from '../helpers/swarm';
import { startRouterProcess, type RouterProc } from './router-harness';
import { createRuntimeFixture, sleep, waitFor, type DriverKind, type RuntimeFixture } from './runtime-fixture';

/**
 * The runtime's shared behaviour, once per ContainerDriver: the Docker driver (one engine) and
 * the Swarm driver (a service per dyno on a single-node swarm, docs/scale-out.md "Swarm").
 * Scale, crash restart, zero-downtime deploy through the real router under bounded load,
 * rollback, one-off exit codes, release phase, adoption after a restart, GC and destroy.
 * The swarm is made for the file when the engine is not in one (and left afterwards), so the
 * Docker driver's half also runs while a swarm exists.
 */
let swarm: TestSwarm;
before(() => {
  swarm = ensureSwarm();
});
after(() => swarm?.leave());

for (const kind of ['docker', 'swarm'] as DriverKind[]) {
  describe(`runtime on the ${kind} driver`, () => {
    let fx: RuntimeFixture;
    let router: RouterProc | undefined;
    before(async () => {
      fx = await createRuntimeFixture(`rt-${kind}`, { keepReleases: 2, routeSettleMs: 1000 }, true, kind);
      const publisher = createRoutesPublisher({
        state: fx.state,
        paths: fx.home,
        config: { domain: 'localhost' } as SlipwayConfig,
      });
      fx.onPublish.push((web) => publisher.publish(web));
      await fx.runtime.start();
      router = await startRouterProcess(fx.home.home);
    });
    after(async () => {
      await router?.stop();
      await fx?.cleanup();
    });

    const body = async (app: string) => (await httpGet(fx.runtime.listWebBackends(app)[0].url, 3000)).body;
    /** The engine objects an app's dynos are: containers (docker) or services (swarm), plus interactive one-offs. */
    const engineObjects = async (app: string) => {
      const label = [`io.slipway.app=${app}`, `io.slipway.home=${fx.home.home}`];
      const services = kind === 'swarm' ? await fx.docker.listServices({ filters: { label } }) : [];
      const containers = (await fx.docker.listContainers({ all: true, filters: { label } })).filter(
        (c) => kind === 'docker' || !c.Labels['com.docker.swarm.task.id'],
      );
      return [...services.map((s) => s.ID), ...containers.map((c) => c.Id)];
    };
    /** The process of a dyno dies (SIGKILL to its container: the task's, on swarm). */
    const kill = async (id: string) => {
      const [c] =
        kind === 'swarm'
          ? await fx.docker.listContainers({ filters: { label: [`com.docker.swarm.service.id=${id}`] } })
          : [{ Id: id }];
      assert.ok(c, `a running container of ${id}`);
      await fx.docker.getContainer(c.Id).kill({ signal: 'SIGKILL' });
    };
    const collect = () => {
      const s = new PassThrough();
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      return { s, text: () => Buffer.concat(chunks).toString() };
    };

    test('scale up and down (web and worker), every web dyno serving on its own address', async () => {
      const app = fx.createApp();
      await fx.deploy(app, {
        processes: { web: 'exec node server.js', worker: 'while true; do echo working; sleep 1; done' },
      });
      await fx.runtime.scale(app, { web: 3, worker: 1 });
      assert.deepEqual(
        (await fx.runtime.listDynos(app)).map((d) => `${d.name}:${d.state}`),
        ['web.1:up', 'web.2:up', 'web.3:up', 'worker.1:up'],
      );
      const bodies = new Set<string>();
      for (const b of fx.runtime.listWebBackends(app)) bodies.add((await httpGet(b.url, 3000)).body.trim());
      assert.deepEqual([...bodies].sort(), ['code-1 v1 web.1', 'code-1 v1 web.2', 'code-1 v1 web.3']);
      await waitFor(
        'worker output',
        () => fx.logs.some((l) => l.app === app && l.dyno === 'worker.1' && l.line === 'working'),
        {
          timeoutMs: 10_000,
        },
      );
      assert.equal((await engineObjects(app)).length, 4);
      await fx.runtime.scale(app, { web: 1, worker: 0 });
      assert.deepEqual(
        (await fx.runtime.listDynos(app)).map((d) => d.name),
        ['web.1'],
      );
      await waitFor('scaled-away dynos removed', async () => (await engineObjects(app)).length === 1, {
        timeoutMs: 20_000,
      });
      await assert.rejects(fx.runtime.scale(app, { clock: 1 }), /no process type "clock"/);
    });

    test('a crashing dyno restarts with back-off and a killed web dyno leaves the routes until it is back', async () => {
      const app = fx.createApp();
      await fx.deploy(app, { processes: { web: 'exec node server.js', worker: 'echo "worker booting"; exit 3' } });
      await fx.runtime.scale(app, { worker: 1 });
      const crashed = await waitFor(
        'two crashes',
        async () => {
          const w = (await fx.runtime.listDynos(app)).find((d) => d.name === 'worker.1');
          return w && w.state === 'crashed' && w.restarts >= 2 ? w : undefined;
        },
        { timeoutMs: 30_000 },
      );
      assert.equal(crashed.exitCode, 3);
      assert.ok(fx.logs.some((l) => l.app === app && l.dyno === 'worker.1' && l.line.startsWith('Restarting in 1 s')));
      const web = (await fx.runtime.listDynos(app)).find((d) => d.name === 'web.1')!;
      await kill(web.containerId);
      await waitFor('web.1 out of the routes', () => fx.runtime.listWebBackends(app).length === 0, {
        timeoutMs: 15_000,
      });
      await waitFor('web.1 back', () => fx.runtime.listWebBackends(app).length === 1, { timeoutMs: 30_000 });
      assert.match(await body(app), /^code-1 v1 web\.1/);
      await fx.runtime.scale(app, { worker: 0 });
    });

    test(
      'zero-downtime: 2 deploys under bounded load through the router, 0 failed requests',
      { timeout: 180_000 },
      async () => {
        const app = fx.createApp();
        await fx.deploy(app, { code: 'deploy-0' });
        await fx.runtime.scale(app, { web: 2 });
        const host = `${app}.localhost`;
        const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
        const get = () =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            const req = http.get(
              { host: '127.0.0.1', port: router!.httpPort, path: '/', headers: { host }, agent, timeout: 10_000 },
              (res) => {
                let b = '';
                res.setEncoding('utf8');
                res.on('data', (d: string) => (b += d));
                res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
              },
            );
            req.on('timeout', () => req.destroy(new Error('timeout')));
            req.on('error', reject);
          });
        await waitFor('router serving', async () => (await get().catch(() => ({ status: 0 }))).status === 200, {
          timeoutMs: 10_000,
        });
        const failures: string[] = [];
        const seen = new Map<string, number>();
        let running = true;
        let sent = 0;
        // Bounded: 4 loops, 25 ms apart each, at most 4000 requests.
        const loops = Array.from({ length: 4 }, async () => {
          while (running && sent < 4000) {
            sent++;
            await get().then(
              (r) => {
                if (r.status !== 200) failures.push(`HTTP ${r.status}: ${r.body.slice(0, 120)}`);
                else seen.set(r.body.split(' ')[0], (seen.get(r.body.split(' ')[0]) ?? 0) + 1);
              },
              (e: Error) => void failures.push(e.message),
            );
            await sleep(25);
          }
        });
        try {
          for (let i = 1; i <= 2; i++) {
            assert.equal((await fx.deploy(app, { code: `deploy-${i}` })).status, 'succeeded');
            await sleep(2500); // traffic on the new release while the old one drains
          }
        } finally {
          running = false;
          await Promise.all(loops);
          agent.destroy();
        }
        console.log(
          `${kind} zero-downtime: ${sent} requests, ${failures.length} failed; per code: ${JSON.stringify(Object.fromEntries(seen))}`,
        );
        assert.deepEqual(failures, []);
        assert.ok(sent > 100, `${sent} requests sent`);
        assert.ok(seen.get('deploy-1') && seen.get('deploy-2'), 'both new releases served');
        await waitFor('old dynos removed', async () => (await engineObjects(app)).length === 2, { timeoutMs: 20_000 });
      },
    );

    test('rollback serves the old code and config as a new release', async () => {
      const app = fx.createApp();
      const appId = fx.state.apps.require(app).id;
      fx.state.configVars.update(appId, { MODE: 'one' });
      await fx.deploy(app, { code: 'old-code' });
      fx.state.configVars.update(appId, { MODE: 'two' });
      await fx.deploy(app, { code: 'new-code' });
      assert.match(await body(app), /^new-code v2/);
      assert.equal((await fx.releases.rollback(app, 1, fx.user)).version, 3);
      assert.match(await body(app), /^old-code v3 web\.1/);
      assert.equal(
        (
          JSON.parse((await httpGet(fx.runtime.listWebBackends(app)[0].url + '/env', 3000)).body) as Record<
            string,
            string
          >
        ).MODE,
        'one',
      );
    });

    test('one-offs: exit codes and output pass through (task without stdin, container with stdin), run:detached logs', async () => {
      const app = fx.createApp();
      fx.state.configVars.update(fx.state.apps.require(app).id, { SECRET_WORD: 'swordfish' });
      await fx.deploy(app);
      const out = collect();
      const err = collect();
      const r = await fx.runtime.runOneOff({
        appName: app,
        command: 'echo "word=$SECRET_WORD dyno=$DYNO"; echo oops >&2; exit 7',
        stdout: out.s,
        stderr: err.s,
      });
      assert.equal(r.exitCode, 7);
      assert.match(out.text(), /^word=swordfish dyno=run\.\d{4}\n$/);
      assert.equal(err.text(), 'oops\n');
      const stdin = new PassThrough();
      const out2 = collect();
      const p = fx.runtime.runOneOff({
        appName: app,
        command: 'tr a-z A-Z; exit 4',
        stdin,
        stdout: out2.s,
        stderr: out2.s,
      });
      stdin.end('shout\n');
      assert.equal((await p).exitCode, 4);
      assert.equal(out2.text(), 'SHOUT\n');
      const d = await fx.runtime.runDetached({ appName: app, command: 'echo detached-output; sleep 1; exit 3' });
      await waitFor(
        'detached exit',
        () => fx.logs.some((l) => l.app === app && l.dyno === d.dyno && l.line === 'Process exited with status 3'),
        { timeoutMs: 20_000 },
      );
      await waitFor(
        'detached output',
        () => fx.logs.some((l) => l.app === app && l.dyno === d.dyno && l.line === 'detached-output'),
        {
          timeoutMs: 5000,
        },
      );
      await waitFor('one-offs removed', async () => (await engineObjects(app)).length === 1, { timeoutMs: 10_000 });
    });

    test('the release phase runs to success before the dynos change; a failing one aborts the deploy', async () => {
      const app = fx.createApp();
      await fx.deploy(app, { code: 'stable' });
      const lines: string[] = [];
      const img = await fx.buildImage(app, { code: 'never' });
      await assert.rejects(
        fx.releases.createFromBuild({
          appName: app,
          ...img,
          releaseCommand: 'echo "migrating"; echo "migration 42 failed" >&2; exit 5',
          user: fx.user,
          output: (l) => lines.push(l),
        }),
        (e: Error) => isSlipwayError(e) && /release command of v2 .* exited with status 5/.test(e.message),
      );
      assert.ok(lines.includes('migrating'), lines.join('\n'));
      assert.ok(lines.includes('migration 42 failed'));
      assert.match(await body(app), /^stable v1/);
      const ok = await fx.deploy(app, {
        code: 'migrated',
        releaseCommand: 'echo "release phase on $DYNO for $SLIPWAY_RELEASE"',
      });
      assert.equal(ok.version, 3);
      assert.match(await body(app), /^migrated v3/);
      assert.ok(
        fx.logs.some((l) => l.app === app && l.dyno === 'release.1' && l.line === 'release phase on release.1 for v3'),
      );
    });

    test("isolation: a dyno reaches its own app's dynos on the app network, never another app's", async () => {
      const a = fx.createApp();
      const b = fx.createApp();
      await fx.deploy(a, { code: 'app-a' });
      await fx.deploy(b, { code: 'app-b' });
      /** The dyno's address on its app's network (bridge or overlay). */
      const ipOf = async (app: string) => {
        const [d] = await fx.runtime.listDynos(app);
        if (kind === 'docker') {
          const info = await fx.docker.getContainer(d.containerId).inspect();
          return Object.values(info.NetworkSettings.Networks)[0].IPAddress;
        }
        const tasks = (await fx.docker.listTasks({ filters: { service: [d.containerId] } })) as Array<{
          Status?: { State?: string };
          NetworksAttachments?: Array<{ Addresses?: string[] }>;
        }>;
        return tasks.find((t) => t.Status?.State === 'running')!.NetworksAttachments![0].Addresses![0].split('/')[0];
      };
      const probe = async (ip: string) => {
        const out = collect();
        const r = await fx.runtime.runOneOff({
          appName: a,
          command: `node -e "require('http').get('http://${ip}:5000/', (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => { console.log('reached ' + r.statusCode + ' ' + b.trim()); process.exit(0); }); }).on('error', (e) => { console.log('blocked ' + e.code); process.exit(3); }).setTimeout(3000, () => { console.log('blocked timeout'); process.exit(3); })"`,
          stdout: out.s,
          stderr: out.s,
        });
        return { code: r.exitCode, text: out.text() };
      };
      const own = await probe(await ipOf(a));
      assert.deepEqual(own, { code: 0, text: 'reached 200 app-a v1 web.1\n' });
      // B's dyno never answers; what the packet meets instead depends on the host's network
      // (nothing, or on some sandboxes an upstream proxy's 404 after the default route).
      const other = await probe(await ipOf(b));
      assert.doesNotMatch(other.text, /app-b/, other.text);
    });

    test('after a server restart the dynos are adopted, not restarted, and still supervised', async () => {
      const app = fx.createApp();
      await fx.deploy(app);
      await fx.runtime.scale(app, { web: 2 });
      const before = await fx.runtime.listDynos(app);
      const urls = fx.runtime.listWebBackends(app).map((b) => b.url);
      await fx.runtime.stop();
      const second = fx.newRuntime();
      await second.start();
      fx.use(second);
      assert.deepEqual(
        (await second.listDynos(app)).map((d) => [d.name, d.state, d.containerId]),
        before.map((d) => [d.name, 'up', d.containerId]),
      );
      assert.deepEqual(
        second.listWebBackends(app).map((b) => b.url),
        urls,
      );
      await kill(before[1].containerId);
      await waitFor(
        'crash noticed',
        async () => ((await second.listDynos(app)).find((d) => d.name === 'web.2')?.restarts ?? 0) >= 1,
        {
          timeoutMs: 15_000,
        },
      );
      await waitFor('web.2 back', () => second.listWebBackends(app).length === 2, { timeoutMs: 30_000 });
    });

    test('garbage collection keeps the last releases’ images; destroy leaves nothing labelled behind', async () => {
      const app = fx.createApp();
      for (let i = 1; i <= 3; i++) await fx.deploy(app, { code: `build-${i}` });
      // The replaced dynos drain in the background (routes, SIGTERM, removal): GC runs after.
      await waitFor('old dynos removed', async () => (await engineObjects(app)).length === 1, { timeoutMs: 30_000 });
      const report = await fx.runtime.collectGarbage();
      assert.equal(report.apps[app].removedImages.length, 1);
      assert.equal((await fx.docker.listImages({ filters: { label: [`io.slipway.app=${app}`] } })).length, 2);
      assert.match(await body(app), /^build-3 v3/);

      await fx.runtime.scale(app, { web: 2 });
      await fx.runtime.runDetached({ appName: app, command: 'sleep 600' });
      await fx.runtime.destroyApp(app);
      assert.deepEqual(await engineObjects(app), []);
      assert.deepEqual(await fx.docker.listImages({ filters: { label: [`io.slipway.app=${app}`] } }), []);
      assert.deepEqual(
        await fx.docker.listNetworks({
          filters: { label: [`io.slipway.app=${app}`, `io.slipway.home=${fx.home.home}`] },
        }),
        [],
      );
      assert.deepEqual(fx.runtime.listWebBackends(app), []);
    });
  });
}
