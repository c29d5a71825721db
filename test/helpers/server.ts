import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { homePaths, type HomePaths } from '../../common/config';
import { createTestHome } from './home';
import { getWithHost, ROUTER_HEALTH_HOST } from '../../server/api/status';

const run = promisify(execFile);
/** dist/ root: this file compiles to dist/test/helpers/server.js. */
export const DIST = path.resolve(__dirname, '..', '..');

export interface TestServer {
  /** http://127.0.0.1:PORT (API at /api, git at /APP.git) */
  url: string;
  /** An admin's API token (created by `admin.js bootstrap`). */
  token: string;
  email: string;
  home: string;
  paths: HomePaths;
  apiPort: number;
  /** Router ports (the router runs only with { router: true }). */
  httpPort: number;
  httpsPort: number;
  /** Environment of the server process (SLIPWAY_HOME, ports, domain). */
  env: NodeJS.ProcessEnv;
  /** Environment for `node dist/cli/main.js` acting as the admin against this server. */
  cliEnv(token?: string): NodeJS.ProcessEnv;
  /** Everything the server (and router) printed so far. */
  output(): string;
  /** Stops the processes, removes Docker objects labelled with this home, deletes the home. */
  stop(): Promise<void>;
  /** A platform restart: the server process stops (SIGTERM) and starts again on the same home and ports. */
  restartServer(): Promise<void>;
}

export interface TestServerOptions {
  /** Also start slipway-router (dist/router/main.js) on free ports. */
  router?: boolean;
  /** Extra environment for the server (for example short timeouts). */
  env?: Record<string, string>;
  /** Hard-link the stack images into the home's store (default true; needed for builds). */
  seedStacks?: boolean;
  email?: string;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/**
 * n distinct free loopback ports: every listener stays open until all n are taken, so the kernel
 * cannot hand the same port out twice (asked one after another, it sometimes did: the API's HTTPS
 * port and the router's collided in a CI run).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      srv.unref();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/**
 * Free loopback ports for every listener of one platform (API, API over HTTPS, router HTTP and
 * HTTPS) and the SLIPWAY_* environment naming them: one place to extend when a listener is added.
 */
export async function freePlatformPorts() {
  const [apiPort, apiHttpsPort, httpPort, httpsPort] = await freePorts(4);
  return {
    apiPort,
    apiHttpsPort,
    httpPort,
    httpsPort,
    env: {
      SLIPWAY_API_PORT: String(apiPort),
      SLIPWAY_API_HTTPS_PORT: String(apiHttpsPort),
      SLIPWAY_HTTP_PORT: String(httpPort),
      SLIPWAY_HTTPS_PORT: String(httpsPort),
    },
  };
}

async function waitHealthy(
  url: string,
  child: ChildProcess,
  out: () => string,
  timeoutMs = 20_000,
  host?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`process exited with ${child.exitCode} before ${url} answered:\n${out()}`);
    try {
      if (host) {
        if ((await getWithHost(url, host, 1000)).status === 200) return;
      } else if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${out()}`);
}

/**
 * Starts a real slipway-server child process (node dist/server/main.js) with a fresh temporary
 * SLIPWAY_HOME on free loopback ports, bootstraps an admin user and token, and waits for
 * /healthz. Its pid is written to HOME/run/test-server.pid so a killed test run is cleaned up by
 * scripts/test.sh. Always call stop() (in `after`/`finally`).
 */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  let home: string;
  let removeHome: () => void;
  if (opts.seedStacks === false) {
    const base = process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes';
    fs.mkdirSync(base, { recursive: true });
    home = fs.mkdtempSync(path.join(base, 'srv-'));
    removeHome = () => fs.rmSync(home, { recursive: true, force: true });
  } else {
    const h = await createTestHome('srv');
    home = h.home;
    removeHome = h.cleanup;
  }
  const paths = homePaths(home);
  const ports = await freePlatformPorts();
  const { apiPort, httpPort, httpsPort } = ports;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLIPWAY_HOME: home,
    ...ports.env,
    SLIPWAY_BIND: '127.0.0.1',
    SLIPWAY_DOMAIN: 'localhost',
    SLIPWAY_BUILD_CONCURRENCY: '1',
    ...opts.env,
  };
  const email = opts.email ?? 'admin@example.com';
  const boot = await run(process.execPath, [path.join(DIST, 'server', 'admin.js'), 'bootstrap', '--email', email], {
    env,
  });
  const token = (JSON.parse(boot.stdout) as { token: string }).token;

  let log = '';
  const children: ChildProcess[] = [];
  const start = (name: string, script: string) => {
    const child = spawn(process.execPath, [path.join(DIST, script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    fs.mkdirSync(paths.run, { recursive: true });
    fs.writeFileSync(path.join(paths.run, `test-${name}.pid`), String(child.pid));
    children.push(child);
    return child;
  };

  const url = `http://127.0.0.1:${apiPort}`;
  const stopChild = (c: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      c.kill('SIGTERM');
    });
  const restartServer = async () => {
    const old = children.find((c) => c.spawnargs.some((a) => a.endsWith(path.join('server', 'main.js'))))!;
    await stopChild(old);
    children.splice(children.indexOf(old), 1);
    const server = start('server', 'server/main.js');
    await waitHealthy(`${url}/healthz`, server, () => log);
  };
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    await removeDockerObjects(home, apiPort);
    if (!process.env.SLIPWAY_TEST_KEEP) removeHome();
  };

  try {
    const server = start('server', 'server/main.js');
    await waitHealthy(`${url}/healthz`, server, () => log);
    if (opts.router) {
      const router = start('router', 'router/main.js');
      await waitHealthy(`http://127.0.0.1:${httpPort}/healthz`, router, () => log, 20_000, ROUTER_HEALTH_HOST);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    token,
    email,
    home,
    paths,
    apiPort,
    httpPort,
    httpsPort,
    env,
    cliEnv: (t = token) => ({
      ...process.env,
      SLIPWAY_API_URL: url,
      SLIPWAY_TOKEN: t,
      SLIPWAY_CONFIG_DIR: path.join(home, 'cli-config'),
      NO_COLOR: '1',
    }),
    output: () => log,
    stop,
    restartServer,
  };
}

/**
 * Removes containers, networks and images labelled io.slipway.home=HOME (only what this home
 * made), and with apiPort also the app images Docker pulled from this server's registry
 * (127.0.0.1:API_PORT/apps/...: pulled images carry no home label).
 */
export async function removeDockerObjects(home: string, apiPort?: number): Promise<void> {
  const filter = `label=io.slipway.home=${home}`;
  const ids = async (args: string[]) => {
    try {
      return (await run('docker', [...args, '--filter', filter], { timeout: 30_000 })).stdout
        .split('\n')
        .filter(Boolean);
    } catch {
      return [];
    }
  };
  const quietly = async (args: string[]) => {
    try {
      await run('docker', args, { timeout: 60_000 });
    } catch {
      // already gone
    }
  };
  // Swarm runtime: the services first (their task containers go with them).
  const services = await ids(['service', 'ls', '-q']);
  if (services.length) await quietly(['service', 'rm', ...services]);
  const containers = await ids(['ps', '-aq']);
  if (containers.length) await quietly(['rm', '-f', '-v', ...containers]);
  const networks = await ids(['network', 'ls', '-q']);
  if (networks.length) await quietly(['network', 'rm', ...networks]);
  // Data volumes of add-on services (server/addons/).
  const volumes = await ids(['volume', 'ls', '-q']);
  if (volumes.length) await quietly(['volume', 'rm', '-f', ...volumes]);
  const images = await ids(['images', '-q']);
  if (apiPort) {
    try {
      const all = (
        await run('docker', ['images', '--format', '{{.Repository}} {{.ID}}'], { timeout: 30_000 })
      ).stdout.split('\n');
      for (const line of all) if (line.startsWith(`127.0.0.1:${apiPort}/`)) images.push(line.split(' ')[1]);
    } catch {
      // dockerd gone: nothing to remove
    }
  }
  if (images.length) await quietly(['rmi', '-f', ...new Set(images)]);
}
