import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { SlipwayError } from '../../common/errors';

/**
 * One build container per build: started once (paying `docker run` ~0.5 s a single time), then
 * every buildpack step is a `docker exec` in it (~0.1 s). It runs the stack's build image as uid
 * 1000 with no Docker socket, CPU/memory/pids limits, the host CA bundle mounted read-only, and
 * the workspace directories bind-mounted so the host can read what buildpacks wrote.
 */
export interface BuildLimits {
  cpus: number;
  memoryMb: number;
  pids: number;
  timeoutMs: number;
}

export const DEFAULT_LIMITS: BuildLimits = { cpus: 2, memoryMb: 2048, pids: 2048, timeoutMs: 15 * 60_000 };

export const CA_PATH = '/etc/ssl/certs/ca-certificates.crt';
export const CA_ENV = [
  'SSL_CERT_FILE',
  'NODE_EXTRA_CA_CERTS',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'REQUESTS_CA_BUNDLE',
].map((k) => `${k}=${CA_PATH}`);

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  cmd: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Called per output line (stdout and stderr) as it arrives. */
  onLine?: (line: string) => void;
  /** Keep stdout out of onLine (bin/release YAML, legacy detect names). */
  captureStdout?: boolean;
  /** Leave the container running afterwards (the next exec follows at once; call freeze() after). */
  keepRunning?: boolean;
}

export interface BuildContainer {
  id: string;
  exec(opts: ExecOptions): Promise<ExecResult>;
  /** Freeze the container now (no-op while a step runs). */
  freeze(): Promise<void>;
  remove(): Promise<void>;
}

export interface StartOptions {
  docker: Docker;
  image: string;
  binds: string[];
  limits: BuildLimits;
  labels: Record<string, string>;
  signal?: AbortSignal;
  /** Docker network to run on (default: the shared build network, see ensureBuildNetwork). */
  network?: string;
}

export const BUILD_NETWORK = 'slipway-build';

/**
 * Builds run on their own bridge: the internet through NAT (package registries), but no app
 * network (Docker drops traffic between bridges) and, with enable_icc off, not each other. Its
 * bridge is named slw-build so the server's host firewall (server/runtime/docker/firewall.ts)
 * also keeps it off the platform ports and 169.254.0.0/16. Shared by every installation on the
 * engine and never removed; made here when missing.
 */
export async function ensureBuildNetwork(docker: Docker, name = BUILD_NETWORK): Promise<string> {
  const exists = () =>
    docker
      .getNetwork(name)
      .inspect()
      .then(
        () => true,
        (err: { statusCode?: number }) => {
          if (err.statusCode === 404) return false;
          throw err;
        },
      );
  if (await exists()) return name;
  try {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Options: {
        'com.docker.network.bridge.name': name === BUILD_NETWORK ? 'slw-build' : `slw-${name.slice(-11)}`,
        'com.docker.network.bridge.enable_icc': 'false',
      },
      Labels: { 'io.slipway.managed': 'true', 'io.slipway.role': 'build' },
    });
  } catch (err) {
    // Another build (or installation) made it at the same moment (409, or 403 for the bridge name).
    if (!(await exists())) throw err;
  }
  return name;
}

export async function startBuildContainer(opts: StartOptions): Promise<BuildContainer> {
  const container = await createBuildContainer(opts);
  return wrapBuildContainer(opts.docker, container, opts.signal);
}

/**
 * A container the pool (pool.ts) started earlier, for one build: the build's limits are applied
 * now (docker update changes the cgroup of the running container), then it is used like a new one.
 */
export async function adoptBuildContainer(opts: {
  docker: Docker;
  container: Docker.Container;
  limits: BuildLimits;
  signal?: AbortSignal;
}): Promise<BuildContainer> {
  const { limits } = opts;
  try {
    await opts.container.update({
      NanoCpus: Math.round(limits.cpus * 1e9),
      Memory: limits.memoryMb * 1024 * 1024,
      MemorySwap: limits.memoryMb * 1024 * 1024,
      PidsLimit: limits.pids,
    });
  } catch (err) {
    await opts.container.remove({ force: true }).catch(() => undefined);
    throw new SlipwayError('DOCKER_UNAVAILABLE', `could not apply the build limits: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return wrapBuildContainer(opts.docker, opts.container, opts.signal);
}

/** Creates (and, unless `start` is false, starts) a build container: the one place its settings live. */
export async function createBuildContainer(
  opts: Omit<StartOptions, 'signal'> & { start?: false },
): Promise<Docker.Container> {
  const { docker, limits } = opts;
  let container: Docker.Container;
  try {
    const network = await ensureBuildNetwork(docker, opts.network);
    container = await docker.createContainer({
      Image: opts.image,
      Cmd: ['sleep', 'infinity'],
      User: '1000:1000',
      WorkingDir: '/app',
      Env: CA_ENV,
      Labels: { 'io.slipway.managed': 'true', 'io.slipway.role': 'build', ...opts.labels },
      HostConfig: {
        Binds: opts.binds,
        NanoCpus: Math.round(limits.cpus * 1e9),
        Memory: limits.memoryMb * 1024 * 1024,
        MemorySwap: limits.memoryMb * 1024 * 1024,
        PidsLimit: limits.pids,
        Init: true,
        SecurityOpt: ['no-new-privileges'],
        CapDrop: ['ALL'],
        AutoRemove: false,
        NetworkMode: network,
      },
    });
  } catch (err) {
    throw new SlipwayError('DOCKER_UNAVAILABLE', `could not create the build container: ${(err as Error).message}`, {
      hint: `check that dockerd is running and the image ${opts.image} exists (slipway stacks:update)`,
      cause: err,
    });
  }
  if (opts.start === false) return container;
  try {
    await container.start();
  } catch (err) {
    await container.remove({ force: true }).catch(() => undefined);
    throw new SlipwayError('DOCKER_UNAVAILABLE', `could not start the build container: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return container;
}

async function wrapBuildContainer(
  docker: Docker,
  container: Docker.Container,
  signal: AbortSignal | undefined,
): Promise<BuildContainer> {
  let removed = false;
  let removal: Promise<void> | undefined;
  // Every caller (abort listener, build end, failure path) waits for the same removal.
  const remove = () => {
    removed = true;
    removal ??= container.remove({ force: true }).then(
      () => {},
      () => {},
    );
    return removal;
  };
  // Frozen (docker pause) whenever no step runs: the host reads and writes buildpack-owned files
  // only then, so a leftover background process cannot swap a path under it (see safe-fs.ts).
  // Steps may run in parallel (detect), so the freeze follows a count of running execs.
  let running = 0;
  let paused = false;
  let freezing: Promise<void> = Promise.resolve();
  const thaw = async () => {
    await freezing;
    if (paused) {
      paused = false;
      // A pause that dockerd reported done but did not keep (seen under load) must not fail the build.
      await container.unpause().catch((err: Error) => {
        if (!/is not paused/.test(err.message)) throw err;
      });
    }
  };
  const freeze = () => {
    freezing = freezing.then(async () => {
      if (running === 0 && !paused && !removed) {
        // Marked paused only once dockerd says so: a failed pause must not make the next step unpause.
        paused = await container.pause().then(
          () => true,
          () => false,
        );
      }
    });
    return freezing;
  };

  async function exec(e: ExecOptions): Promise<ExecResult> {
    if (removed) throw new SlipwayError('BUILD_FAILED', 'the build container is gone (build aborted or timed out)');
    running++;
    try {
      await thaw();
      try {
        return await execInner(e);
      } catch (err) {
        // A pause whose answer was lost (dockerd slow under load: the call failed, the pause took
        // effect) leaves the container paused though we think it runs: unpause and start once more.
        if (removed || !/is paused|unpause the container/i.test((err as Error).message)) throw err;
        await container.unpause().catch(() => {});
        return await execInner(e);
      }
    } finally {
      running--;
      if (!e.keepRunning) await freeze();
    }
  }

  async function execInner(e: ExecOptions): Promise<ExecResult> {
    const x = await container.exec({
      Cmd: e.cmd,
      Env: Object.entries(e.env).map(([k, v]) => `${k}=${v}`),
      User: '1000:1000',
      WorkingDir: e.cwd ?? '/app',
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await x.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const err = new PassThrough();
    docker.modem.demuxStream(stream, out, err);
    const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const lines = (which: 'stdout' | 'stderr') => {
      let rest = '';
      return (d: Buffer) => {
        chunks[which].push(d);
        if (!e.onLine || (which === 'stdout' && e.captureStdout)) return;
        const text = rest + d.toString('utf8');
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        for (const p of parts) e.onLine(p.replace(/\r$/, ''));
        flushers[which] = () => rest && e.onLine!(rest);
      };
    };
    const flushers: Record<string, () => void> = {};
    out.on('data', lines('stdout'));
    err.on('data', lines('stderr'));
    await new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    Object.values(flushers).forEach((f) => f());
    const info = await x.inspect();
    return {
      code: info.ExitCode ?? -1,
      stdout: Buffer.concat(chunks.stdout).toString('utf8'),
      stderr: Buffer.concat(chunks.stderr).toString('utf8'),
    };
  }

  const bc: BuildContainer = { id: container.id, exec, freeze, remove };
  // An abort that came while the container was being created fires no event: check it here.
  if (signal?.aborted) {
    await remove();
    throw new SlipwayError('BUILD_FAILED', 'the build container is gone (build aborted or timed out)');
  }
  signal?.addEventListener('abort', () => void remove(), { once: true });
  return bc;
}
