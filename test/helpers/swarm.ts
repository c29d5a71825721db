import { execFileSync } from 'node:child_process';

/**
 * A single-node swarm for the Swarm-driver tests: `docker swarm init --advertise-addr 127.0.0.1`
 * when the engine is not in a swarm, and `leave()` undoes exactly that (it leaves only a swarm
 * it made), so the machine's swarm state is as found afterwards.
 */
export interface TestSwarm {
  /** True when this helper initialised the swarm. */
  initialised: boolean;
  leave(): void;
}

const docker = (args: string[]) =>
  execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

export function swarmState(): string {
  return docker(['info', '--format', '{{.Swarm.LocalNodeState}}']);
}

export function ensureSwarm(): TestSwarm {
  if (swarmState() === 'active') return { initialised: false, leave() {} };
  docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  let left = false;
  return {
    initialised: true,
    leave() {
      if (left) return;
      left = true;
      docker(['swarm', 'leave', '--force']);
    },
  };
}
