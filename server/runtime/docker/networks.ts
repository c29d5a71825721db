import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { SlipwayError } from '../../../common/errors';

/**
 * One Docker network per app: a user-defined bridge that every container of the app (web and
 * worker dynos, one-offs, the release phase) joins. Docker drops traffic between two bridges, so a
 * dyno reaches the dynos of its own app and nothing else of ours; the router still reaches web
 * dynos at their 127.0.0.1-published port. Bridges are named slw<hash> (Linux allows 15 chars) so
 * the host firewall (firewall.ts) can match every Slipway bridge with one `-i slw+`.
 *
 * Subnets are picked here, from SLIPWAY_NETWORK_POOL in /25 steps, not from dockerd's default
 * pools: those hold about 30 networks, far fewer than the apps one host runs.
 */
export const BRIDGE_PREFIX = 'slw';
const SUBNET_BITS = 25;

export interface AppNetworks {
  /** The app's network name, created (labelled, with its own subnet) when missing. */
  ensure(app: string): Promise<string>;
  /** Removes the app's network (its containers must be gone). Missing is not an error. */
  remove(app: string): Promise<void>;
  nameOf(app: string): string;
}

const hash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

function parseCidr(cidr: string): { base: number; bits: number } | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const base = ((+m[1] << 24) | (+m[2] << 16) | (+m[3] << 8) | +m[4]) >>> 0;
  return { base, bits: +m[5] };
}
const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const size = (bits: number) => 2 ** (32 - bits);
const overlaps = (a: { base: number; bits: number }, b: { base: number; bits: number }) =>
  a.base < b.base + size(b.bits) && b.base < a.base + size(a.bits);

export function createAppNetworks(opts: { docker: Docker; home: string; pool: string }): AppNetworks {
  const { docker, home } = opts;
  const pool = parseCidr(opts.pool);
  if (!pool || pool.bits > SUBNET_BITS) {
    throw new SlipwayError(
      'CONFIG_INVALID',
      `SLIPWAY_NETWORK_POOL=${JSON.stringify(opts.pool)} is not an IPv4 range of /${SUBNET_BITS} or larger`,
      {
        hint: 'set it to a private range no other network on this host uses, such as 10.213.0.0/16 (the default)',
      },
    );
  }
  // Installs on one engine (tests run several) never share a network: the home is in the name.
  const nameOf = (app: string) => `slipway-${hash(home, 8)}-${app}`;
  const inflight = new Map<string, Promise<string>>();

  async function exists(name: string): Promise<boolean> {
    try {
      await docker.getNetwork(name).inspect();
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      throw err;
    }
  }

  async function freeSubnets(): Promise<string[]> {
    const used = (await docker.listNetworks())
      .flatMap((n) => (n.IPAM?.Config ?? []).map((c) => parseCidr(c.Subnet ?? '')))
      .filter((c): c is { base: number; bits: number } => !!c);
    const out: string[] = [];
    for (let base = pool!.base; base < pool!.base + size(pool!.bits); base += size(SUBNET_BITS)) {
      const cand = { base, bits: SUBNET_BITS };
      if (!used.some((u) => overlaps(u, cand))) out.push(`${ip(base)}/${SUBNET_BITS}`);
    }
    return out;
  }

  async function create(app: string): Promise<string> {
    const name = nameOf(app);
    if (await exists(name)) return name;
    let lastErr: unknown;
    // Another installation may take the same free subnet at the same moment: try the next ones.
    for (const subnet of (await freeSubnets()).slice(0, 8)) {
      try {
        await docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
          Options: { 'com.docker.network.bridge.name': `${BRIDGE_PREFIX}${hash(`${home}\0${app}`, 12)}` },
          Labels: { 'io.slipway.managed': 'true', 'io.slipway.home': home, 'io.slipway.app': app },
        });
        return name;
      } catch (err) {
        // Made at the same moment by another process of this home (409, or 403: same bridge name).
        if (await exists(name)) return name;
        lastErr = err;
      }
    }
    throw new SlipwayError(
      'DOCKER_UNAVAILABLE',
      `could not create the network of app ${app}: ${lastErr ? (lastErr as Error).message : 'no free subnet'}`,
      {
        hint: `SLIPWAY_NETWORK_POOL (${opts.pool}) may be full or overlap another network: see docker network ls, and destroy unused apps or choose a larger range`,
        cause: lastErr,
      },
    );
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
      try {
        await docker.getNetwork(nameOf(app)).remove();
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    },
  };
}
