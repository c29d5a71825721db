import * as fs from 'node:fs';
import * as os from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { SlipwayError } from '../../../common/errors';
import { sizeToHostConfig } from '../sizes';
import type { AttachedIo, ContainerDriver, ContainerInfo, ContainerSpec } from '../types';
import { createAppNetworks, type AppNetworks } from './networks';
import { demuxBuffer, splitLines } from './streams';

/**
 * The Docker implementation of ContainerDriver: one engine on this host. Every container carries
 * io.slipway.managed=true and io.slipway.home=<SLIPWAY_HOME>, and list/watch only ever see
 * containers with this installation's home label, so nothing else on the engine is touched.
 */
export interface DockerDriverOptions {
  docker: Docker;
  home: string;
  /** Host CA bundle, bind-mounted read-only (see docs/architecture.md "CA trust"). */
  caBundle?: string;
  /** json-file rotation per container. */
  logMaxSize?: string;
  logMaxFile?: number;
  /** Where app networks take their subnets (docs/runtime.md "Networks"); default 10.213.0.0/16. */
  networkPool?: string;
  /** The app networks to join instead of per-app bridges (the Swarm driver's overlays). */
  networks?: AppNetworks;
}

export const DEFAULT_NETWORK_POOL = '10.213.0.0/16';
const CA_ENV = ['SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'REQUESTS_CA_BUNDLE'];
const notFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;
const notModified = (err: unknown) => (err as { statusCode?: number }).statusCode === 304;

export function createDockerDriver(opts: DockerDriverOptions): ContainerDriver {
  const { docker, home } = opts;
  const hostCpus = os.cpus().length;
  const ca = opts.caBundle && fs.existsSync(opts.caBundle) ? opts.caBundle : undefined;
  const networks = opts.networks ?? createAppNetworks({ docker, home, pool: opts.networkPool ?? DEFAULT_NETWORK_POOL });

  function toInfo(c: Docker.ContainerInspectInfo): ContainerInfo {
    const ports = c.NetworkSettings?.Ports ?? {};
    let address: string | null = null;
    for (const bindings of Object.values(ports)) {
      const b = bindings?.[0];
      if (b?.HostPort) address = `${b.HostIp && b.HostIp !== '0.0.0.0' ? b.HostIp : '127.0.0.1'}:${b.HostPort}`;
    }
    const started = Date.parse(c.State.StartedAt);
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      running: c.State.Running || c.State.Restarting,
      exitCode: c.State.Running ? null : c.State.ExitCode,
      startedAt: Number.isFinite(started) && started > 0 ? started : null,
      labels: c.Config.Labels ?? {},
      address: c.State.Running ? address : null,
    };
  }

  async function inspect(id: string): Promise<ContainerInfo | undefined> {
    try {
      return toInfo(await docker.getContainer(id).inspect());
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  return {
    async create(spec: ContainerSpec): Promise<string> {
      const env = { ...spec.env };
      if (ca) for (const k of CA_ENV) env[k] ??= ca;
      const port = spec.publishPort ? `${spec.publishPort}/tcp` : undefined;
      // Every container of an app (dynos, one-offs, release phase) joins the app's own network.
      const app = spec.labels['io.slipway.app'];
      try {
        const network = app ? await networks.ensure(app) : undefined;
        const c = await docker.createContainer({
          name: spec.name,
          Image: spec.image,
          Entrypoint: spec.entrypoint,
          Cmd: spec.cmd,
          Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
          Labels: { ...spec.labels, 'io.slipway.managed': 'true', 'io.slipway.home': home },
          User: spec.user,
          ...(spec.workdir ? { WorkingDir: spec.workdir } : {}),
          Tty: !!spec.tty,
          OpenStdin: !!spec.openStdin,
          StdinOnce: !!spec.openStdin,
          AttachStdin: !!spec.openStdin,
          AttachStdout: true,
          AttachStderr: true,
          ExposedPorts: port ? { [port]: {} } : undefined,
          HostConfig: {
            ...sizeToHostConfig(spec.size, hostCpus),
            PortBindings: port ? { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] } : undefined,
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges'],
            Init: true,
            RestartPolicy: { Name: 'no' },
            LogConfig: {
              Type: 'json-file',
              Config: { 'max-size': opts.logMaxSize ?? '10m', 'max-file': String(opts.logMaxFile ?? 3) },
            },
            Binds: ca ? [`${ca}:/etc/ssl/certs/ca-certificates.crt:ro`] : undefined,
            NetworkMode: network,
          },
        });
        return c.id;
      } catch (err) {
        throw new SlipwayError(
          'DOCKER_UNAVAILABLE',
          `could not create container ${spec.name}: ${(err as Error).message}`,
          {
            hint: 'check that dockerd is running and the image exists (docker images)',
            cause: err,
          },
        );
      }
    },

    async start(id) {
      try {
        await docker.getContainer(id).start();
      } catch (err) {
        if (!notModified(err)) throw err;
      }
    },

    inspect,

    async stop(id, graceMs) {
      try {
        await docker.getContainer(id).stop({ t: Math.max(0, Math.ceil(graceMs / 1000)) });
      } catch (err) {
        if (!notFound(err) && !notModified(err)) throw err;
      }
    },

    async remove(id) {
      try {
        await docker.getContainer(id).remove({ force: true, v: true });
      } catch (err) {
        // 409: removal already in progress.
        if (!notFound(err) && (err as { statusCode?: number }).statusCode !== 409) throw err;
      }
    },

    async list(app) {
      const label = ['io.slipway.managed=true', `io.slipway.home=${home}`];
      if (app) label.push(`io.slipway.app=${app}`);
      // From the list call alone (no inspect per container): this runs every reconcile pass.
      // startedAt is not in it; callers that need it inspect.
      const found = await docker.listContainers({ all: true, filters: { label } });
      return found.map((c) => {
        const running = c.State === 'running' || c.State === 'restarting';
        const port = c.Ports?.find((p) => p.PublicPort);
        const exited = /Exited \((-?\d+)\)/.exec(c.Status ?? '');
        return {
          id: c.Id,
          name: (c.Names?.[0] ?? '').replace(/^\//, ''),
          running,
          exitCode: running ? null : exited ? Number(exited[1]) : null,
          startedAt: null,
          labels: c.Labels ?? {},
          address:
            running && port ? `${port.IP && port.IP !== '0.0.0.0' ? port.IP : '127.0.0.1'}:${port.PublicPort}` : null,
        };
      });
    },

    followLogs(id, sinceMs, onLine) {
      let stream: Readable | undefined;
      let stopped = false;
      const out = new PassThrough();
      const err = new PassThrough();
      splitLines(out, (l) => onLine(l, 'stdout'));
      splitLines(err, (l) => onLine(l, 'stderr'));
      const since = sinceMs > 0 ? (sinceMs / 1000).toFixed(9) : 0;
      docker
        .getContainer(id)
        .logs({ follow: true, stdout: true, stderr: true, since: since as number })
        .then((s) => {
          stream = s as unknown as Readable;
          if (stopped) return stream.destroy();
          docker.modem.demuxStream(stream, out, err);
          stream.on('end', () => {
            out.end();
            err.end();
          });
          stream.on('error', () => {
            out.end();
            err.end();
          });
        })
        .catch(() => {
          out.end();
          err.end();
        });
      return () => {
        stopped = true;
        stream?.destroy();
      };
    },

    async execRead(id, cmd, timeoutMs) {
      try {
        const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: false });
        const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Readable;
        const chunks: Buffer[] = [];
        const done = new Promise<void>((resolve) => {
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => resolve());
          stream.on('error', () => resolve());
        });
        const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
        await Promise.race([done, timer]);
        stream.destroy();
        return demuxBuffer(Buffer.concat(chunks));
      } catch {
        return undefined;
      }
    },

    async tailLogs(id, lines) {
      try {
        const buf = (await docker
          .getContainer(id)
          .logs({ follow: false, stdout: true, stderr: true, tail: lines })) as unknown as Buffer;
        return demuxBuffer(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)))
          .split('\n')
          .filter((l) => l.length > 0)
          .slice(-lines);
      } catch (err) {
        if (notFound(err)) return [];
        throw err;
      }
    },

    watchExits(onExit) {
      let stopped = false;
      let current: Readable | undefined;
      let retry: NodeJS.Timeout | undefined;
      const connect = () => {
        if (stopped) return;
        docker
          .getEvents({ filters: { type: ['container'], event: ['die'], label: [`io.slipway.home=${home}`] } })
          .then((s) => {
            current = s as unknown as Readable;
            if (stopped) return current.destroy();
            splitLines(current, (line) => {
              try {
                const e = JSON.parse(line) as {
                  id?: string;
                  Actor?: { ID?: string; Attributes?: Record<string, string> };
                };
                const cid = e.Actor?.ID ?? e.id;
                const code = e.Actor?.Attributes?.exitCode;
                if (cid) onExit(cid, code === undefined ? null : Number(code), e.Actor?.Attributes ?? {});
              } catch {
                /* not an event line */
              }
            });
            // The stream ends when dockerd restarts: reconnect; the periodic reconcile covers the gap.
            current.on('close', () => {
              if (!stopped) retry = setTimeout(connect, 1000);
            });
            current.on('error', () => {});
          })
          .catch(() => {
            if (!stopped) retry = setTimeout(connect, 1000);
          });
      };
      connect();
      return () => {
        stopped = true;
        clearTimeout(retry);
        current?.destroy();
      };
    },

    async runAttached(id, io: AttachedIo, tty) {
      const container = docker.getContainer(id);
      const stream = (await container.attach({
        stream: true,
        stdin: !!io.stdin,
        stdout: true,
        stderr: true,
        hijack: !!io.stdin,
      })) as unknown as NodeJS.ReadWriteStream & Readable;
      const ended = new Promise<void>((resolve) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', () => resolve());
      });
      if (tty) stream.pipe(io.stdout, { end: false });
      else docker.modem.demuxStream(stream, io.stdout, io.stderr);
      await container.start();
      // Asked after start (not-running returns at once on a created container). A next-exit wait
      // sent before start could reach dockerd after a quick command had already exited, and then
      // waited for an exit that never came (a release phase hung for 12 minutes under load).
      const exited = container.wait({ condition: 'not-running' });
      if (tty && io.rows && io.cols) await container.resize({ h: io.rows, w: io.cols }).catch(() => {});
      const onData = (d: Buffer) => {
        if (!stream.destroyed) stream.write(d);
      };
      const onEnd = () => {
        if (!stream.destroyed) (stream as unknown as { end(): void }).end();
      };
      io.stdin?.on('data', onData);
      io.stdin?.on('end', onEnd);
      try {
        const { StatusCode } = (await exited) as { StatusCode: number };
        // Output written just before exit may still be in flight.
        await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
        return StatusCode;
      } finally {
        io.stdin?.off('data', onData);
        io.stdin?.off('end', onEnd);
        stream.destroy();
      }
    },

    async wait(id) {
      const { StatusCode } = (await docker.getContainer(id).wait()) as { StatusCode: number };
      return StatusCode;
    },

    removeAppNetwork: (app) => networks.remove(app),

    async listAppImages(app) {
      // Proof of ownership: the managed label plus either the app label or a name in the app's
      // repository (the server's registry serves app images as HOST/apps/APP@sha256:...).
      const images = await docker.listImages({ filters: { label: ['io.slipway.managed=true'] } });
      const repoOf = (name: string) =>
        name.includes('@') ? name.slice(0, name.indexOf('@')) : name.replace(/:[^:/]+$/, '');
      const ours = (name: string) => {
        const repo = repoOf(name);
        return repo === `apps/${app}` || repo.endsWith(`/apps/${app}`);
      };
      return images
        .filter(
          (i) => i.Labels?.['io.slipway.app'] === app || [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])].some(ours),
        )
        .map((i) => ({ id: i.Id, size: i.Size }));
    },

    async removeImage(id) {
      try {
        await docker.getImage(id).remove({ force: true, noprune: false });
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        // 409: still used by a container; kept until the next collection.
        if ((err as { statusCode?: number }).statusCode === 409) return false;
        throw err;
      }
    },
  };
}
