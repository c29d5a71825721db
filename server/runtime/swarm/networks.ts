import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { SlipwayError } from '../../../common/errors';
import type { AppNetworks } from '../docker/networks';

/**
 * One overlay network per app on the Swarm runtime: the isolation rule of the Docker driver
 * (docs/runtime.md "Networks") carried over. Every task of an app (dynos, one-shot tasks) joins
 * it, and nothing else of ours does, so a dyno reaches its own app's dynos on any node and no
 * other app's (overlays are separate VXLANs). It is attachable, so the interactive one-offs
 * (plain containers on the manager, see driver.ts) and add-on services join it too.
 *
 * The name is the Docker driver's (`slipway-<home hash>-APP`), so code that connects to "the
 * app's network" by name works on both. Subnets come from the swarm's address pool
 * (`docker swarm init --default-addr-pool`, install.sh sets one beside SLIPWAY_NETWORK_POOL).
 */
const hash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

export function createOverlayNetworks(opts: { docker: Docker; home: string }): AppNetworks {
  const { docker, home } = opts;
  const nameOf = (app: string) => `slipway-${hash(home, 8)}-${app}`;
  const inflight = new Map<string, Promise<string>>();
  const status = (err: unknown) => (err as { statusCode?: number }).statusCode;

  async function exists(name: string): Promise<boolean> {
    try {
      await docker.getNetwork(name).inspect();
      return true;
    } catch (err) {
      if (status(err) === 404) return false;
      throw err;
    }
  }

  async function create(app: string): Promise<string> {
    const name = nameOf(app);
    if (await exists(name)) return name;
    try {
      await docker.createNetwork({
        Name: name,
        Driver: 'overlay',
        Attachable: true,
        CheckDuplicate: true,
        Labels: { 'io.slipway.managed': 'true', 'io.slipway.home': home, 'io.slipway.app': app },
      });
      return name;
    } catch (err) {
      if (await exists(name)) return name;
      throw new SlipwayError(
        'DOCKER_UNAVAILABLE',
        `could not create the overlay network of app ${app}: ${(err as Error).message}`,
        {
          hint: 'check that this engine is a swarm manager (docker info: Swarm: active) and that the address pool is not full (docker network ls)',
          cause: err,
        },
      );
    }
  }

  return {
    nameOf,
    ensure(app) {
      let p = inflight.get(app);
      if (!p) {
        p = create(app).finally(() => inflight.delete(app));
        inflight.set(app, p);
      }
      return p;
    },
    async remove(app) {
      // Task containers leave the network a moment after their service is removed: retry a while.
      for (let i = 0; ; i++) {
        try {
          await docker.getNetwork(nameOf(app)).remove();
          return;
        } catch (err) {
          if (status(err) === 404) return;
          if (i >= 40) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
  };
}
