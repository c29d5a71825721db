import type Docker from 'dockerode';
import { SlipwayError } from '../../../common/errors';

/**
 * The swarm as the operator sees it (`slipway admin:runtime`, `slipway nodes`, `nodes:add`,
 * `nodes:drain`, `nodes:remove`): read from and changed through the manager's engine API only.
 */
export interface SwarmState {
  state: string;
  nodeId: string | null;
  manager: boolean;
  managers: number;
  nodes: number;
  error: string | null;
}

export interface NodeInfo {
  id: string;
  hostname: string;
  role: string;
  state: string;
  availability: string;
  address: string;
  manager: boolean;
  leader: boolean;
  labels: Record<string, string>;
  cpus: number;
  memoryMb: number;
  /** Running tasks of this installation on the node (dynos and one-shot tasks). */
  tasks: number;
}

interface RawNode {
  ID: string;
  Spec: { Role: string; Availability: string; Labels?: Record<string, string>; Name?: string };
  Version: { Index: number };
  Description?: { Hostname?: string; Resources?: { NanoCPUs?: number; MemoryBytes?: number } };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Addr?: string };
}

export interface Cluster {
  state(): Promise<SwarmState>;
  /** Throws unless this engine is an active swarm manager (the server's start on SLIPWAY_RUNTIME=swarm). */
  assertManager(): Promise<void>;
  nodes(): Promise<NodeInfo[]>;
  /** The worker join command (token and the manager's address) for `nodes:add`. */
  join(): Promise<{ token: string; manager: string; command: string }>;
  /**
   * Drains a node without failed requests: `pause` (no new tasks there), then `moveApps` replaces
   * the dynos of the apps with tasks there (the runtime's zero-downtime rollout: new dynos on the
   * other nodes first), then `drain` (Swarm stops what is left, such as one-shot tasks).
   */
  drain(node: string, moveApps: (apps: string[]) => Promise<void>): Promise<NodeInfo>;
  activate(node: string): Promise<NodeInfo>;
  remove(node: string): Promise<void>;
}

export function createCluster(opts: { docker: Docker; home: string }): Cluster {
  const { docker, home } = opts;

  async function state(): Promise<SwarmState> {
    const info = (await docker.info()) as {
      Swarm?: {
        LocalNodeState?: string;
        NodeID?: string;
        ControlAvailable?: boolean;
        Managers?: number;
        Nodes?: number;
        Error?: string;
      };
    };
    const s = info.Swarm ?? {};
    return {
      state: s.LocalNodeState || 'inactive',
      nodeId: s.NodeID || null,
      manager: !!s.ControlAvailable,
      managers: s.Managers ?? 0,
      nodes: s.Nodes ?? 0,
      error: s.Error || null,
    };
  }

  async function raw(): Promise<RawNode[]> {
    return (await docker.listNodes()) as unknown as RawNode[];
  }

  async function find(name: string): Promise<RawNode> {
    const all = await raw();
    const n =
      all.find((x) => x.ID === name || x.Description?.Hostname === name) ?? all.find((x) => x.ID.startsWith(name));
    if (!n)
      throw new SlipwayError('NOT_FOUND', `no node ${JSON.stringify(name)} in the swarm`, {
        hint: 'see the nodes with: slipway nodes',
      });
    return n;
  }

  async function nodes(): Promise<NodeInfo[]> {
    const all = await raw();
    const tasks = (await docker.listTasks({ filters: { 'desired-state': ['running'] } })) as unknown as Array<{
      NodeID?: string;
      Status?: { State?: string };
      Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
    }>;
    const ours = tasks.filter(
      (t) => t.Status?.State === 'running' && t.Spec?.ContainerSpec?.Labels?.['io.slipway.home'] === home,
    );
    return all.map((n) => ({
      id: n.ID,
      hostname: n.Description?.Hostname ?? '',
      role: n.Spec.Role,
      state: n.Status?.State ?? 'unknown',
      availability: n.Spec.Availability,
      address: n.Status?.Addr ?? '',
      manager: n.Spec.Role === 'manager',
      leader: !!n.ManagerStatus?.Leader,
      labels: n.Spec.Labels ?? {},
      cpus: (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9,
      memoryMb: Math.round((n.Description?.Resources?.MemoryBytes ?? 0) / 1048576),
      tasks: ours.filter((t) => t.NodeID === n.ID).length,
    }));
  }

  async function setAvailability(name: string, availability: 'active' | 'pause' | 'drain'): Promise<NodeInfo> {
    const n = await find(name);
    await docker
      .getNode(n.ID)
      .update({ _query: { version: n.Version.Index }, _body: { ...n.Spec, Availability: availability } } as never);
    return (await nodes()).find((x) => x.id === n.ID)!;
  }

  return {
    state,
    async assertManager() {
      const s = await state();
      if (s.state !== 'active' || !s.manager) {
        throw new SlipwayError(
          'CONFIG_INVALID',
          `SLIPWAY_RUNTIME=swarm but this Docker engine is ${s.state === 'active' ? 'a swarm worker, not a manager' : `not in a swarm (${s.state})`}`,
          {
            hint: 'make it a manager: docker swarm init --advertise-addr ADDRESS (install.sh --runtime swarm does), or set SLIPWAY_RUNTIME=docker',
          },
        );
      }
    },
    nodes,
    async join() {
      const sw = (await docker.swarmInspect()) as { JoinTokens: { Worker: string } };
      const me = (await raw()).find((n) => n.ManagerStatus?.Leader) ?? (await raw())[0];
      const manager = me?.ManagerStatus?.Addr ?? `${me?.Status?.Addr ?? '127.0.0.1'}:2377`;
      return {
        token: sw.JoinTokens.Worker,
        manager,
        command: `docker swarm join --token ${sw.JoinTokens.Worker} ${manager}`,
      };
    },
    async drain(name, moveApps) {
      const n = await find(name);
      const all = await nodes();
      const others = all.filter((x) => x.id !== n.ID && x.availability === 'active' && x.state === 'ready');
      if (others.length === 0) {
        throw new SlipwayError(
          'CONFLICT',
          `${n.Description?.Hostname ?? n.ID} is the only node that can run tasks: draining it would stop every dyno`,
          {
            hint: 'add a node first (slipway nodes:add), wait until slipway nodes shows it ready, then drain this one',
          },
        );
      }
      await setAvailability(n.ID, 'pause');
      const tasks = (await docker.listTasks({
        filters: { node: [n.ID], 'desired-state': ['running'] },
      })) as unknown as Array<{
        Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
      }>;
      const apps = new Set<string>();
      for (const t of tasks) {
        const l = t.Spec?.ContainerSpec?.Labels ?? {};
        if (l['io.slipway.home'] === home && l['io.slipway.app'] && l['io.slipway.oneoff'] !== 'true')
          apps.add(l['io.slipway.app']);
      }
      await moveApps([...apps]);
      return setAvailability(n.ID, 'drain');
    },
    activate: (name) => setAvailability(name, 'active'),
    async remove(name) {
      const n = await find(name);
      if (n.Spec.Role === 'manager') {
        throw new SlipwayError(
          'CONFLICT',
          `${n.Description?.Hostname ?? n.ID} is a manager; Slipway removes workers only`,
          {
            hint: 'demote it first on a manager (docker node demote NODE), or keep it',
          },
        );
      }
      if (n.Status?.State === 'ready' && n.Spec.Availability !== 'drain') {
        throw new SlipwayError('CONFLICT', `${n.Description?.Hostname ?? n.ID} is still running tasks`, {
          hint: `drain it first (slipway nodes:drain ${name}), then run docker swarm leave on it, then remove it`,
        });
      }
      await docker.getNode(n.ID).remove({ force: n.Status?.State !== 'down' } as never);
    },
  };
}
