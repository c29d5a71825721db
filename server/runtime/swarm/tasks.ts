import type Docker from 'dockerode';
import { SIZES, assertSize } from '../sizes';
import type { ContainerSpec } from '../types';

/**
 * Swarm service specs and task reading for the Swarm driver (driver.ts): one service per dyno,
 * replicas 0 (created) or 1 (started), restart condition none (the runtime's supervisor restarts
 * with its own back-off, as with the Docker driver).
 */
export interface SwarmTask {
  ID: string;
  NodeID?: string;
  CreatedAt?: string;
  DesiredState?: string;
  Status?: {
    State?: string;
    Timestamp?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
    PortStatus?: { Ports?: Array<{ PublishedPort?: number; TargetPort?: number }> };
  };
}

/** Task states in which the dyno's process is alive or on its way to it. */
const ALIVE = new Set(['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running']);
export const taskAlive = (t: SwarmTask | undefined) =>
  !!t && t.DesiredState !== 'shutdown' && ALIVE.has(t.Status?.State ?? '');
/** The task's process may still run (whatever Swarm now wants of it): stop() waits on this. */
export const taskStillUp = (t: SwarmTask | undefined) => !!t && ALIVE.has(t.Status?.State ?? '');
export const taskRunning = (t: SwarmTask | undefined) => !!t && t.Status?.State === 'running';

/** The service's current task: the newest one (a restart is a forced update: a new task). */
export function newestTask(tasks: SwarmTask[]): SwarmTask | undefined {
  return [...tasks].sort((a, b) => Date.parse(b.CreatedAt ?? '') - Date.parse(a.CreatedAt ?? ''))[0];
}

/** Service names are DNS labels: no dots, at most 63 characters. */
export function serviceName(name: string): string {
  const n = name.replace(/[^A-Za-z0-9-]/g, '-');
  return n.length <= 63 ? n : `${n.slice(0, 56)}-${n.slice(-6)}`;
}

export interface SpecInput {
  spec: ContainerSpec;
  env: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  hostCpus: number;
  ca?: string;
  stopGraceMs: number;
  logMaxSize: string;
  logMaxFile: number;
}

/** The service spec of one dyno or one-shot task. */
export function serviceSpec(i: SpecInput): Record<string, unknown> {
  const s = SIZES[assertSize(i.spec.size)];
  return {
    Name: serviceName(i.spec.name),
    Labels: i.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: i.spec.image,
        Command: i.spec.entrypoint,
        Args: i.spec.cmd,
        Env: Object.entries(i.env).map(([k, v]) => `${k}=${v}`),
        Labels: i.labels,
        User: i.spec.user || undefined,
        Dir: i.spec.workdir,
        Init: true,
        CapabilityDrop: ['ALL'],
        StopGracePeriod: Math.round(i.stopGraceMs * 1e6),
        Mounts: i.ca
          ? [{ Type: 'bind', Source: i.ca, Target: '/etc/ssl/certs/ca-certificates.crt', ReadOnly: true }]
          : [],
      },
      Resources: {
        Limits: {
          NanoCPUs: Math.round(Math.min(s.cpus, Math.max(i.hostCpus, 0.01)) * 1e9),
          MemoryBytes: s.memoryMb * 1024 * 1024,
          Pids: s.pids,
        },
      },
      // The runtime restarts crashed dynos itself (back-off, crash counts, logs), as on Docker.
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: i.spec.placement ?? [] },
      Networks: [{ Target: i.network }],
      LogDriver: { Name: 'json-file', Options: { 'max-size': i.logMaxSize, 'max-file': String(i.logMaxFile) } },
    },
    Mode: { Replicated: { Replicas: 0 } },
    // A restart is a forced update of a one-replica service: start the new task first.
    UpdateConfig: { Parallelism: 1, Order: 'start-first', FailureAction: 'continue', Monitor: 1e9 },
    // Host-mode ports, one per task, allocated by the engine: the ingress mesh is not used
    // (docs/scale-out.md "Swarm": it refuses connections in some sandboxes, and the router
    // balances and health-checks the dynos itself).
    EndpointSpec: i.spec.publishPort
      ? { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: i.spec.publishPort, PublishMode: 'host' }] }
      : { Mode: 'dnsrr' },
  };
}

/** host:port of a running task's published port, given its node's address. */
export function taskAddress(t: SwarmTask | undefined, nodeAddr: string | undefined): string | null {
  if (!taskRunning(t)) return null;
  const port = t!.Status?.PortStatus?.Ports?.find((p) => p.PublishedPort)?.PublishedPort;
  if (!port) return null;
  const host = !nodeAddr || nodeAddr === '0.0.0.0' ? '127.0.0.1' : nodeAddr;
  return `${host}:${port}`;
}

/** Docker's service update: the whole spec at the version read (optimistic concurrency). */
export async function updateService(
  docker: Docker,
  id: string,
  change: (spec: Record<string, any>) => void,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const svc = (await docker.getService(id).inspect()) as { Version: { Index: number }; Spec: Record<string, any> };
    change(svc.Spec);
    try {
      await docker.getService(id).update({ _query: { version: svc.Version.Index }, _body: svc.Spec } as never);
      return;
    } catch (err) {
      // "update out of sequence": someone updated it between our read and write; read again.
      if (attempt < 3 && /out of sequence/i.test((err as Error).message)) continue;
      throw err;
    }
  }
}
