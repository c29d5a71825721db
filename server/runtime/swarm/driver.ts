import * as fs from 'node:fs';
import * as os from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { SlipwayError } from '../../../common/errors';
import { createDockerDriver } from '../docker/driver';
import { demuxBuffer, splitLines } from '../docker/streams';
import type { ContainerDriver, ContainerInfo, ContainerSpec } from '../types';
import { createOverlayNetworks } from './networks';
import {
  newestTask,
  serviceSpec,
  taskAddress,
  taskAlive,
  taskRunning,
  taskStillUp,
  updateService,
  type SwarmTask,
} from './tasks';

/**
 * The Swarm implementation of ContainerDriver (SLIPWAY_RUNTIME=swarm, docs/runtime.md "Swarm").
 * A "container" of the runtime is a Swarm service with one replica: each dyno is a service
 * (created with replicas 0, started by scaling to 1, restarted by a forced update), so the
 * runtime's supervisor, rollout, health checks and route publishing work unchanged and the
 * tasks land on any node of the swarm. Why a service per dyno rather than per process type:
 * docs/architecture.md "Swarm runtime".
 *
 * Interactive one-offs (`slipway run` with stdin or a TTY) cannot be Swarm tasks (a service has
 * no attach): they run as plain containers on this manager, joined to the app's attachable
 * overlay network, through the Docker driver. Everything else (dynos, run:detached, the release
 * phase) is a task. Images: the reference the runtime gives (with the platform registry,
 * REGISTRY/apps/APP@sha256:..., which every node can pull; without it, the manager's local image).
 */
export interface SwarmDriverOptions {
  docker: Docker;
  home: string;
  caBundle?: string;
  logMaxSize?: string;
  logMaxFile?: number;
  /** SIGTERM to SIGKILL of a dyno task: the runtime's drainGraceMs (fixed per service by Swarm). */
  stopGraceMs?: number;
  /** How long start() waits for the task to run (a node's image pull included). */
  startTimeoutMs?: number;
  /**
   * Registry credentials sent with each service (X-Registry-Auth, like `--with-registry-auth`)
   * so workers can pull; server/main.ts sets it when the platform registry is on.
   */
  registryAuth?: () => { username: string; password: string; serveraddress: string } | undefined;
}

const notFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;
const isContainerId = (id: string) => /^[0-9a-f]{64}$/.test(id);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createSwarmDriver(opts: SwarmDriverOptions): ContainerDriver {
  const { docker, home } = opts;
  const hostCpus = os.cpus().length;
  const ca = opts.caBundle && fs.existsSync(opts.caBundle) ? opts.caBundle : undefined;
  const networks = createOverlayNetworks({ docker, home });
  // Interactive one-offs and images: the manager's own engine.
  const local = createDockerDriver({ docker, home, caBundle: opts.caBundle, networks });
  // Node addresses and states, read at most every 5 s: a task on a node that is down is not
  // alive, whatever its last reported state (Swarm keeps it until the node comes back).
  let nodeInfo = new Map<string, { addr: string; down: boolean }>();
  let nodesRead = 0;
  async function node(id: string | undefined): Promise<{ addr: string; down: boolean } | undefined> {
    if (!id) return undefined;
    if (!nodeInfo.has(id) || Date.now() - nodesRead > 5000) {
      const list = (await docker.listNodes()) as Array<{ ID: string; Status?: { Addr?: string; State?: string } }>;
      nodeInfo = new Map(list.map((n) => [n.ID, { addr: n.Status?.Addr ?? '', down: n.Status?.State === 'down' }]));
      nodesRead = Date.now();
    }
    return nodeInfo.get(id);
  }

  const tasksOf = async (id: string) =>
    (await docker.listTasks({ filters: { service: [id] } })) as unknown as SwarmTask[];

  async function toInfo(
    svc: { ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } },
    t: SwarmTask | undefined,
  ): Promise<ContainerInfo> {
    const where = await node(t?.NodeID);
    const alive = taskAlive(t) && !where?.down;
    const started = taskRunning(t) ? Date.parse(t!.Status?.Timestamp ?? '') : NaN;
    return {
      id: svc.ID,
      name: svc.Spec?.Name ?? '',
      running: alive,
      exitCode: alive || !t ? null : (t.Status?.ContainerStatus?.ExitCode ?? null),
      startedAt: Number.isFinite(started) ? started : null,
      labels: svc.Spec?.Labels ?? {},
      address: alive ? taskAddress(t, where?.addr) : null,
    };
  }

  async function inspectService(id: string): Promise<ContainerInfo | undefined> {
    try {
      const svc = (await docker.getService(id).inspect()) as {
        ID: string;
        Spec: { Name: string; Labels: Record<string, string> };
      };
      return await toInfo(svc, newestTask(await tasksOf(id)));
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  /** Waits until the service's task (newer than `after`) runs or has ended; the last one seen. */
  async function settle(id: string, after: number, timeoutMs: number): Promise<SwarmTask | undefined> {
    const until = Date.now() + timeoutMs;
    let t: SwarmTask | undefined;
    for (let wait = 50; Date.now() < until; wait = Math.min(wait * 2, 500)) {
      t = newestTask(await tasksOf(id));
      const fresh = t && Date.parse(t.CreatedAt ?? '') >= after - 1000;
      if (fresh && (taskRunning(t) || !taskAlive(t))) return t;
      // Pending with a reason (no node satisfies the placement, no resources): say so, not a timeout.
      if (fresh && t!.Status?.State === 'pending' && t!.Status.Err && Date.now() - after > 3000) {
        await updateService(docker, id, (s) => (s.Mode = { Replicated: { Replicas: 0 } })).catch(() => {});
        const name = ((await docker.getService(id).inspect()) as { Spec: { Name: string } }).Spec.Name;
        throw new SlipwayError('DEPLOY_FAILED', `Swarm could not place ${name}: ${t!.Status.Err}`, {
          hint: "check the placement (slipway ps:placement) against the nodes and their labels (slipway nodes), and the nodes' free memory and CPU",
        });
      }
      await sleep(wait);
    }
    return t;
  }

  async function currentContainer(id: string): Promise<string | undefined> {
    const c = newestTask(await tasksOf(id).catch(() => []))?.Status?.ContainerStatus?.ContainerID;
    // Only a task on this node has its container here (multi-node: undefined elsewhere).
    return c && (await local.inspect(c)) ? c : undefined;
  }

  function follow(id: string, sinceMs: number, onLine: (line: string, stream: 'stdout' | 'stderr') => void) {
    let stream: Readable | undefined;
    let stopped = false;
    const out = new PassThrough();
    const err = new PassThrough();
    splitLines(out, (l) => onLine(l, 'stdout'));
    splitLines(err, (l) => onLine(l, 'stderr'));
    const end = () => {
      out.end();
      err.end();
    };
    const since = sinceMs > 0 ? (sinceMs / 1000).toFixed(9) : 0;
    docker
      .getService(id)
      .logs({ follow: true, stdout: true, stderr: true, since: since as number })
      .then((s) => {
        stream = s as unknown as Readable;
        if (stopped) return stream.destroy();
        docker.modem.demuxStream(stream, out, err);
        stream.on('end', end);
        stream.on('error', end);
      })
      .catch(end);
    return () => {
      stopped = true;
      stream?.destroy();
    };
  }

  const driver: ContainerDriver = {
    async create(spec: ContainerSpec) {
      // No attach on a service: interactive one-offs are containers on the app's overlay.
      if (spec.openStdin || spec.tty) return local.create(spec);
      const app = spec.labels['io.slipway.app'];
      const env = { ...spec.env };
      if (ca)
        for (const k of [
          'SSL_CERT_FILE',
          'NODE_EXTRA_CA_CERTS',
          'CURL_CA_BUNDLE',
          'GIT_SSL_CAINFO',
          'REQUESTS_CA_BUNDLE',
        ])
          env[k] ??= ca;
      try {
        const network = await networks.ensure(app);
        const body = serviceSpec({
          spec,
          env,
          labels: { ...spec.labels, 'io.slipway.managed': 'true', 'io.slipway.home': home },
          network,
          hostCpus,
          ca,
          stopGraceMs: opts.stopGraceMs ?? 30_000,
          logMaxSize: opts.logMaxSize ?? '10m',
          logMaxFile: opts.logMaxFile ?? 3,
        });
        const auth = opts.registryAuth?.();
        const created = (await (auth
          ? docker.createService(auth, body as never)
          : docker.createService(body as never))) as {
          id?: string;
          ID?: string;
        };
        return (created.id ?? created.ID)!;
      } catch (err) {
        if (err instanceof SlipwayError) throw err;
        throw new SlipwayError(
          'DOCKER_UNAVAILABLE',
          `could not create service ${spec.name}: ${(err as Error).message}`,
          {
            hint: 'check that this engine is an active swarm manager (slipway admin:runtime, docker node ls)',
            cause: err,
          },
        );
      }
    },

    async start(id) {
      if (isContainerId(id)) return local.start(id);
      const at = Date.now();
      // One replica; a forced update makes a new task when the last one has ended (a restart).
      await updateService(docker, id, (s) => {
        s.Mode = { Replicated: { Replicas: 1 } };
        s.TaskTemplate.ForceUpdate = (s.TaskTemplate.ForceUpdate ?? 0) + 1;
      });
      await settle(id, at, opts.startTimeoutMs ?? 120_000);
    },

    inspect: (id) => (isContainerId(id) ? local.inspect(id) : inspectService(id)),

    async stop(id, graceMs) {
      if (isContainerId(id)) return local.stop(id, graceMs);
      try {
        const before = newestTask(await tasksOf(id));
        if (graceMs <= 0) {
          const c = await currentContainer(id);
          if (c) await local.stop(c, 0);
        }
        await updateService(docker, id, (s) => {
          s.Mode = { Replicated: { Replicas: 0 } };
        });
        if (!taskStillUp(before)) return;
        // Swarm stops the task with the service's grace period: wait until its process has ended
        // (its actual state, not the desired one, which turns to shutdown at once).
        const until = Date.now() + Math.max(graceMs, opts.stopGraceMs ?? 30_000) + 15_000;
        while (Date.now() < until && taskStillUp(newestTask(await tasksOf(id)))) await sleep(100);
      } catch (err) {
        if (!notFound(err)) throw err;
      }
    },

    async remove(id) {
      if (isContainerId(id)) return local.remove(id);
      try {
        await docker.getService(id).remove();
      } catch (err) {
        if (!notFound(err)) throw err;
      }
      // The node removes the task containers a moment later; until then they hold the image
      // and the network (GC and destroy come right after). Only this node's are seen here.
      const until = Date.now() + 15_000;
      const filters = { label: [`com.docker.swarm.service.id=${id}`] };
      while (Date.now() < until && (await docker.listContainers({ all: true, filters })).length > 0) await sleep(200);
    },

    async list(app) {
      const label = ['io.slipway.managed=true', `io.slipway.home=${home}`];
      if (app) label.push(`io.slipway.app=${app}`);
      const services = (await docker.listServices({ filters: { label } })) as unknown as Array<{
        ID: string;
        Spec: { Name: string; Labels: Record<string, string> };
      }>;
      const tasks = services.length
        ? ((await docker.listTasks({ filters: { service: services.map((s) => s.ID) } })) as unknown as Array<
            SwarmTask & { ServiceID: string }
          >)
        : [];
      const out: ContainerInfo[] = [];
      for (const s of services)
        out.push({ ...(await toInfo(s, newestTask(tasks.filter((t) => t.ServiceID === s.ID)))), startedAt: null });
      // Interactive one-offs (plain containers); task containers are the services above.
      for (const c of await local.list(app)) if (!c.labels['com.docker.swarm.task.id']) out.push(c);
      return out;
    },

    followLogs: (id, sinceMs, onLine) =>
      isContainerId(id) ? local.followLogs(id, sinceMs, onLine) : follow(id, sinceMs, onLine),

    async tailLogs(id, lines) {
      if (isContainerId(id)) return local.tailLogs(id, lines);
      try {
        const buf = (await docker
          .getService(id)
          .logs({ follow: false, stdout: true, stderr: true, tail: lines })) as unknown as Buffer;
        return demuxBuffer(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)))
          .split('\n')
          .filter((l) => l.length > 0)
          .map((l) => l.replace(/^\S+@\S+\s+\|\s?/, ''))
          .slice(-lines);
      } catch (err) {
        if (notFound(err)) return [];
        throw err;
      }
    },

    watchExits(onExit) {
      // Local engine events name the task's service; tasks on other nodes are noticed by the
      // runtime's periodic reconcile (inspect says the task ended).
      return local.watchExits((id, code, attrs) => onExit(attrs?.['com.docker.swarm.service.id'] ?? id, code));
    },

    async runAttached(id, io, tty) {
      if (isContainerId(id)) return local.runAttached(id, io, tty);
      const at = Date.now();
      await driver.start(id);
      let last = Date.now();
      const stopLogs = follow(id, 0, (line, stream) => {
        last = Date.now();
        (stream === 'stderr' ? io.stderr : io.stdout).write(`${line}\n`);
      });
      try {
        const code = await driver.wait(id);
        // Service logs arrive through the swarm's log broker: wait until they have gone quiet.
        const until = Date.now() + 3000;
        while (Date.now() < until && (Date.now() - last < 700 || last < at)) await sleep(100);
        return code;
      } finally {
        stopLogs();
      }
    },

    async wait(id) {
      if (isContainerId(id)) return local.wait(id);
      for (;;) {
        const t = newestTask(await tasksOf(id));
        if (t && !taskAlive(t)) {
          // A task that never ran (no node could take it, no image) has no exit status: 125, as docker run.
          return t.Status?.ContainerStatus?.ExitCode ?? 125;
        }
        await sleep(200);
      }
    },

    listAppImages: (app) => local.listAppImages(app),
    removeImage: (id) => local.removeImage(id),
    removeAppNetwork: (app) => networks.remove(app),

    async execRead(id, cmd, timeoutMs) {
      if (isContainerId(id)) return local.execRead(id, cmd, timeoutMs);
      const c = await currentContainer(id);
      return c ? local.execRead(c, cmd, timeoutMs) : undefined;
    },
  };
  return driver;
}
