import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { DIST, freePort, startTestServer, type TestServer } from '../helpers/server';
import { tmpDir } from '../helpers/home';
import { ensureSwarm, type TestSwarm } from '../helpers/swarm';
import { waitFor } from '../helpers/wait';
import { getVia } from './git-helpers';

/**
 * The platform on SLIPWAY_RUNTIME=swarm, through the real CLI, a real git push and the real
 * router, on a single-node swarm (made for the file when the engine is not in one, and left
 * afterwards): admin:runtime, nodes, nodes:add, nodes:drain of the only node refused, a push
 * served through the router, ps:placement (satisfiable and not), apps:destroy.
 */
const exec = promisify(execFile);
const CLI = path.join(DIST, 'cli', 'main.js');
const APP = `swarm-${randomBytes(3).toString('hex')}`;
const docker = new Docker();
let swarm: TestSwarm;
let srv: TestServer;
let repo: string;
let env: NodeJS.ProcessEnv;
let registryAddr: string;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env, cwd: repo, timeout: 300_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const x = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}
async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  assert.equal(r.code, 0, `slipway ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}
const json = async <T>(args: string[]) => JSON.parse(await ok([...args, '--json'])) as T;
const viaRouter = () => getVia(srv.httpPort, `${APP}.localhost`, '/', 5000);
const services = () =>
  docker.listServices({ filters: { label: [`io.slipway.home=${srv.home}`, `io.slipway.app=${APP}`] } });

before(async () => {
  swarm = ensureSwarm();
  // The platform registry comes with the swarm runtime: on a free loopback port of its own.
  srv = await startTestServer({
    router: true,
    env: {
      SLIPWAY_RUNTIME: 'swarm',
      SLIPWAY_BUILD_TIMEOUT_S: '600',
      SLIPWAY_REGISTRY_ADDR: (registryAddr = `127.0.0.1:${await freePort()}`),
    },
  });
  repo = tmpDir('slipway-swarm-');
  env = {
    ...process.env,
    SLIPWAY_CONFIG_DIR: tmpDir('slipway-cli-'),
    NO_COLOR: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  };
  delete env.SLIPWAY_TOKEN;
  delete env.SLIPWAY_API_URL;
  const pkg = { name: 'swarm-app', version: '1.0.0', private: true, engines: { node: '20.x' } };
  fs.writeFileSync(path.join(repo, 'package.json'), JSON.stringify(pkg));
  fs.writeFileSync(
    path.join(repo, 'package-lock.json'),
    JSON.stringify({ ...pkg, lockfileVersion: 3, requires: true, packages: { '': pkg } }),
  );
  fs.writeFileSync(
    path.join(repo, 'server.js'),
    "require('http').createServer((q, s) => s.end('hello from ' + process.env.DYNO)).listen(Number(process.env.PORT));\n",
  );
  fs.writeFileSync(path.join(repo, 'Procfile'), 'web: node server.js\n');
  await exec('git', ['init', '-q', '-b', 'main'], { cwd: repo, env });
  await exec('git', ['add', '-A'], { cwd: repo, env });
  await exec('git', ['commit', '-qm', 'first'], { cwd: repo, env });
  await ok(['login', '--api', srv.url, '--token', srv.token]);
});

after(async () => {
  await srv?.stop();
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
  swarm?.leave();
});

test('admin:runtime and nodes show the swarm; nodes:add prints the join command; draining the only node is refused', async () => {
  const rt = await json<{ runtime: string; swarm: { state: string; manager: boolean; nodes: number } }>([
    'admin:runtime',
  ]);
  assert.equal(rt.runtime, 'swarm');
  assert.equal(rt.swarm.state, 'active');
  assert.equal(rt.swarm.manager, true);
  assert.match(await ok(['admin:runtime']), /Runtime: swarm\nSwarm: +active, this engine is a manager; 1 node/);

  const nodes = await json<Array<{ hostname: string; role: string; state: string; availability: string }>>(['nodes']);
  assert.equal(nodes.length, 1);
  assert.deepEqual([nodes[0].role, nodes[0].state, nodes[0].availability], ['manager', 'ready', 'active']);
  assert.match(await ok(['nodes']), /Availability/);

  const add = await ok(['nodes:add']);
  assert.match(add, /docker swarm join --token SWMTKN-\S+ 127\.0\.0\.1:2377/);
  assert.match(add, /install\.sh --join SWMTKN-\S+ 127\.0\.0\.1:2377/);

  const drain = await cli(['nodes:drain', nodes[0].hostname]);
  assert.notEqual(drain.code, 0);
  assert.match(drain.stderr, /is the only node that can run tasks: draining it would stop every dyno/);
  assert.match(drain.stderr, /slipway nodes:add/);
  assert.equal((await json<Array<{ availability: string }>>(['nodes']))[0].availability, 'active');
});

test('a push runs web as a swarm service served through the router; ps:placement moves it or refuses; destroy removes it', async () => {
  await ok(['apps:create', APP]);
  const push = await exec('git', ['push', 'slipway', 'main'], { cwd: repo, env, timeout: 600_000 }).catch(
    (e: { stdout?: string; stderr?: string }) => {
      throw new Error(`git push failed:\n${e.stderr}\n${e.stdout}\n${srv.output().slice(-3000)}`);
    },
  );
  assert.match(push.stderr, /Released v1/);
  let last = '';
  await waitFor('the router serves web.1', async () => (last = (await viaRouter()).body) === 'hello from web.1', {
    timeoutMs: 10_000,
    context: () =>
      `last answer: ${last}\nroutes: ${fs.readFileSync(srv.paths.routesFile, 'utf8')}\n${srv.output().slice(-2000)}`,
  });
  const [svc] = await services();
  assert.equal(svc.Spec?.Labels?.['io.slipway.process'], 'web');
  assert.equal(svc.Spec?.TaskTemplate?.RestartPolicy?.Condition, 'none');
  assert.equal(svc.Spec?.EndpointSpec?.Ports?.[0]?.PublishMode, 'host');
  // The task runs the platform registry's reference (what a second node would pull), by digest.
  assert.match(
    String((svc.Spec?.TaskTemplate as { ContainerSpec?: { Image?: string } } | undefined)?.ContainerSpec?.Image),
    new RegExp(`^${registryAddr.replace(/\./g, '\\.')}/apps/${APP}@sha256:[0-9a-f]{64}$`),
  );

  assert.match(await ok(['ps:placement', 'web=node.role==manager', '-a', APP]), /web runs on node\.role==manager/);
  // The old dyno's service drains (routes first, then SIGTERM) and goes.
  const [placed] = await waitFor(
    'one dyno service',
    async () => {
      const list = await services();
      return list.length === 1 ? list : undefined;
    },
    { timeoutMs: 30_000 },
  );
  assert.notEqual(placed.ID, svc.ID, 'a new dyno service');
  assert.deepEqual(placed.Spec?.TaskTemplate?.Placement?.Constraints, ['node.role==manager']);
  assert.equal((await viaRouter()).body, 'hello from web.1');

  const nowhere = await cli(['ps:placement', 'web=node.labels.zone==nowhere', '-a', APP]);
  assert.notEqual(nowhere.code, 0);
  assert.match(nowhere.stderr, /Swarm could not place .*no suitable node/);
  assert.equal((await viaRouter()).body, 'hello from web.1', 'the placed dyno keeps serving');
  const left = await services();
  assert.deepEqual(
    left.map((s) => s.ID),
    [placed.ID],
    `${JSON.stringify(left.map((s) => [s.Spec?.Name, s.Spec?.Labels, s.CreatedAt]))}\n${nowhere.stderr}\n${srv.output().slice(-3000)}`,
  );

  await ok(['apps:destroy', APP, '--confirm', APP]);
  await waitFor('no services left', async () => (await services()).length === 0, { timeoutMs: 20_000 });
});
