import { createHash } from 'node:crypto';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type Docker from 'dockerode';
import { SlipwayError } from '../../common/errors';
import type { AddonKind, AddonRow } from '../state/repos/addons';
import { PLANS, type Plan } from './plans';

/**
 * Docker objects of one service: its container (slw-<home hash>-<name>) and its named data volume
 * (same name + "-data"). The container joins only the networks of the apps it is attached to, with
 * the service's name as DNS alias there, and publishes no port: apps reach it at NAME:PORT on
 * their own bridge, nobody else reaches it at all (docs/security.md, docs/addons.md).
 */
export const PORTS: Record<AddonKind, number> = { postgres: 5432, redis: 6379 };
const notFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;
const code = (err: unknown) => (err as { statusCode?: number }).statusCode;

export interface ServiceContainers {
  containerName(name: string): string;
  volumeName(name: string): string;
  /** Creates the volume and container when missing (first start initialises the data). Returns the container id. */
  ensure(addon: AddonRow, env: Record<string, string>, networks: string[]): Promise<string>;
  inspect(name: string): Promise<Docker.ContainerInspectInfo | undefined>;
  start(name: string): Promise<void>;
  stop(name: string, graceS?: number): Promise<void>;
  /** Removes the container; with the volume too when `data` (destroy). */
  remove(name: string, data: boolean): Promise<void>;
  volumeExists(name: string): Promise<boolean>;
  /** Joins/leaves app networks so the container is on exactly `networks` (alias: the service name). */
  setNetworks(name: string, networks: string[]): Promise<void>;
  exec(name: string, cmd: string[], io?: ExecIo): Promise<number>;
  execText(
    name: string,
    cmd: string[],
    opts?: { env?: string[]; stdin?: Readable },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Live memory use in bytes (docker stats, one sample). */
  memory(name: string): Promise<number | null>;
}

export interface ExecIo {
  env?: string[];
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  tty?: boolean;
  rows?: number;
  cols?: number;
}

export function createServiceContainers(opts: { docker: Docker; home: string }): ServiceContainers {
  const { docker, home } = opts;
  const prefix = `slw-${createHash('sha256').update(home).digest('hex').slice(0, 8)}-`;
  const containerName = (name: string) => `${prefix}${name}`;
  const volumeName = (name: string) => `${prefix}${name}-data`;
  const labels = (addon: AddonRow) => ({
    'io.slipway.managed': 'true',
    'io.slipway.home': home,
    'io.slipway.addon': addon.name,
    'io.slipway.addon.kind': addon.kind,
  });

  async function inspect(name: string) {
    try {
      return await docker.getContainer(containerName(name)).inspect();
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  async function setNetworks(name: string, wanted: string[]): Promise<void> {
    const info = await inspect(name);
    if (!info) return;
    const current = Object.keys(info.NetworkSettings?.Networks ?? {});
    for (const n of wanted) {
      if (current.includes(n)) continue;
      try {
        await docker.getNetwork(n).connect({ Container: info.Id, EndpointConfig: { Aliases: [name] } });
      } catch (err) {
        // 403: already connected (a concurrent call).
        if (code(err) !== 403) throw err;
      }
    }
    for (const n of current) {
      if (wanted.includes(n)) continue;
      await docker
        .getNetwork(n)
        .disconnect({ Container: info.Id, Force: true })
        .catch((err: unknown) => {
          if (!notFound(err)) throw err;
        });
    }
  }

  async function exec(name: string, cmd: string[], io: ExecIo = {}): Promise<number> {
    const container = docker.getContainer(containerName(name));
    const x = await container.exec({
      Cmd: cmd,
      Env: io.env,
      User: '1000:1000',
      AttachStdin: !!io.stdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: !!io.tty,
    });
    const stream = (await x.start({
      hijack: true,
      stdin: !!io.stdin,
      Tty: !!io.tty,
    } as never)) as unknown as NodeJS.ReadWriteStream & Readable;
    const out = io.stdout ?? new PassThrough().resume();
    const err = io.stderr ?? new PassThrough().resume();
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    if (io.tty) stream.on('data', (d: Buffer) => out.write(d));
    else docker.modem.demuxStream(stream, out, err);
    if (io.tty && io.rows && io.cols) await x.resize({ h: io.rows, w: io.cols }).catch(() => {});
    if (io.stdin) {
      io.stdin.on('data', (d: Buffer) => {
        if (!stream.destroyed) stream.write(d);
      });
      io.stdin.on('end', () => {
        // Half-close: the process sees EOF on its stdin.
        if (!stream.destroyed) (stream as unknown as { end(): void }).end();
      });
    }
    await ended;
    for (let i = 0; i < 50; i++) {
      const s = await x.inspect();
      if (!s.Running) return s.ExitCode ?? 1;
      await new Promise((r) => setTimeout(r, 100));
    }
    return 1;
  }

  return {
    containerName,
    volumeName,
    inspect,
    setNetworks,
    exec,

    async ensure(addon, env, networks) {
      const existing = await inspect(addon.name);
      if (existing) return existing.Id;
      const plan: Plan = PLANS[addon.plan] ?? PLANS.small;
      try {
        await docker.createVolume({ Name: volumeName(addon.name), Labels: labels(addon) });
      } catch (err) {
        if (code(err) !== 409) throw err;
      }
      const first = networks[0];
      try {
        const c = await docker.createContainer({
          name: containerName(addon.name),
          Image: addon.image,
          Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
          Labels: labels(addon),
          User: '1000:1000',
          Hostname: addon.name,
          // PostgreSQL's SIGTERM waits for every client to disconnect (apps keep pools open):
          // SIGINT is its fast shutdown (clean, sessions ended). Redis saves on SIGTERM.
          StopSignal: addon.kind === 'postgres' ? 'SIGINT' : 'SIGTERM',
          HostConfig: {
            Memory: plan.memoryMb * 1024 * 1024,
            MemorySwap: plan.memoryMb * 1024 * 1024,
            NanoCpus: Math.round(plan.cpus * 1e9),
            PidsLimit: 512,
            // The server's supervisor restarts it (with back-off), like dynos: Docker's own policy would hide crashes.
            RestartPolicy: { Name: 'no' },
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges'],
            Init: true,
            ShmSize: 128 * 1024 * 1024,
            Mounts: [{ Type: 'volume', Source: volumeName(addon.name), Target: '/data' }],
            // Never a published port. Without an attached app, the default bridge only until
            // start (left again at once below) so the container can join app networks later.
            NetworkMode: first ?? 'bridge',
            LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
          },
          NetworkingConfig: first ? { EndpointsConfig: { [first]: { Aliases: [addon.name] } } } : undefined,
        });
        if (!first)
          await docker
            .getNetwork('bridge')
            .disconnect({ Container: c.id, Force: true })
            .catch(() => {});
        return c.id;
      } catch (err) {
        if (code(err) === 409) return (await inspect(addon.name))!.Id;
        throw new SlipwayError(
          'DOCKER_UNAVAILABLE',
          `could not create the container of ${addon.name}: ${(err as Error).message}`,
          {
            hint: 'check that dockerd is running and the service image exists (node dist/stacks/services-cli.js)',
            cause: err,
          },
        );
      }
    },

    async start(name) {
      try {
        await docker.getContainer(containerName(name)).start();
      } catch (err) {
        if (code(err) !== 304) throw err;
      }
    },

    async stop(name, graceS = 30) {
      try {
        await docker.getContainer(containerName(name)).stop({ t: graceS });
      } catch (err) {
        if (!notFound(err) && code(err) !== 304) throw err;
      }
    },

    async remove(name, data) {
      try {
        await docker.getContainer(containerName(name)).remove({ force: true, v: true });
      } catch (err) {
        if (!notFound(err) && code(err) !== 409) throw err;
      }
      if (!data) return;
      for (let i = 0; ; i++) {
        try {
          await docker.getVolume(volumeName(name)).remove();
          return;
        } catch (err) {
          if (notFound(err)) return;
          // 409: the container's removal is still finishing.
          if (code(err) !== 409 || i >= 20) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },

    async volumeExists(name) {
      try {
        await docker.getVolume(volumeName(name)).inspect();
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw err;
      }
    },

    async execText(name, cmd, o = {}) {
      let stdout = '';
      let stderr = '';
      const out = new PassThrough();
      const err = new PassThrough();
      out.on('data', (d: Buffer) => (stdout += d.toString()));
      err.on('data', (d: Buffer) => (stderr += d.toString()));
      const c = await exec(name, cmd, { env: o.env, stdin: o.stdin, stdout: out, stderr: err });
      return { code: c, stdout, stderr };
    },

    async memory(name) {
      try {
        const s = (await docker.getContainer(containerName(name)).stats({ stream: false })) as unknown as {
          memory_stats?: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
        };
        const usage = s.memory_stats?.usage;
        if (usage === undefined) return null;
        return usage - (s.memory_stats?.stats?.inactive_file ?? s.memory_stats?.stats?.total_inactive_file ?? 0);
      } catch {
        return null;
      }
    },
  };
}
