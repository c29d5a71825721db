import * as http from 'node:http';
import type { AppRoute, RouteTable } from './route-table';
import { createUpstreamPool, type UpstreamPool } from './upstream';

/**
 * Backend pools, one per app, each with ONE keep-alive agent: without an agent http-proxy (and
 * http.request) opens a socket per request, a known throughput cliff (http-party/node-http-proxy#929).
 * The agent's idle timeout stays below Node's default 5 s server keep-alive so we never reuse a
 * socket the dyno is closing (the race Heroku's Router 2.0 hit as H13/H18).
 */
export type Strategy = 'round-robin' | 'least-outstanding';

export interface Backend {
  dyno: string;
  url: string;
  hostname: string;
  port: number;
  release: number;
  outstanding: number;
  /** A dyno that refused a connection is skipped until this time (ms since epoch). */
  skipUntil: number;
}

/**
 * Counts a request against a backend (least-outstanding balancing reads the count) and returns
 * the idempotent release to call when the request ends, however it ends.
 */
export function claim(b: Backend): () => void {
  b.outstanding++;
  let released = false;
  return () => {
    if (!released) {
      released = true;
      b.outstanding--;
    }
  };
}

export interface Pool {
  app: string;
  /** Keep-alive connections for bodiless requests (the fast path, router/upstream.ts). */
  upstream: UpstreamPool;
  /** Keep-alive agent for requests with a body (Node's client streams and re-chunks them). */
  agent: http.Agent;
  backends: Backend[];
  pick(exclude?: Set<Backend>): Backend | undefined;
  markRefused(b: Backend): void;
}

export interface PoolOptions {
  strategy: Strategy;
  /** Idle keep-alive sockets to dynos are closed after this (must be < the dynos' keep-alive). */
  agentIdleMs: number;
  /** How long a refusing dyno is left out of the rotation. */
  skipMs: number;
  /** Upper bound of sockets per dyno; further requests queue in the agent. */
  maxSocketsPerDyno: number;
}

function toBackend(b: AppRoute['backends'][number], previous?: Backend): Backend {
  const u = new URL(b.url);
  return {
    dyno: b.dyno,
    url: b.url,
    hostname: u.hostname,
    port: Number(u.port) || 80,
    release: b.release,
    outstanding: previous?.outstanding ?? 0,
    skipUntil: previous?.skipUntil ?? 0,
  };
}

function createPool(
  app: string,
  agent: http.Agent,
  upstream: UpstreamPool,
  backends: Backend[],
  opts: PoolOptions,
): Pool {
  let next = 0;
  return {
    app,
    agent,
    upstream,
    backends,
    pick(exclude) {
      const n = backends.length;
      if (n === 0) return undefined;
      const now = Date.now();
      const start = next;
      next = (next + 1) % n;
      let best: Backend | undefined;
      let fallback: Backend | undefined;
      for (let k = 0; k < n; k++) {
        const b = backends[(start + k) % n];
        if (exclude?.has(b)) continue;
        if (b.skipUntil > now) {
          // All dynos refusing: still try the one skipped longest ago, it may be back.
          if (!fallback || b.skipUntil < fallback.skipUntil) fallback = b;
          continue;
        }
        if (opts.strategy === 'round-robin') return b;
        if (!best || b.outstanding < best.outstanding) best = b;
      }
      return best ?? fallback;
    },
    markRefused(b) {
      b.skipUntil = Date.now() + opts.skipMs;
    },
  };
}

export interface Pools {
  update(table: RouteTable): void;
  get(app: string): Pool | undefined;
  /** Open sockets to dynos (in use + idle), for the health endpoint and leak checks. */
  socketCount(): number;
  destroy(): void;
}

export function createPools(opts: PoolOptions): Pools {
  let pools = new Map<string, Pool>();
  const newAgent = () =>
    new http.Agent({
      keepAlive: true,
      timeout: opts.agentIdleMs,
      maxSockets: opts.maxSocketsPerDyno,
      maxFreeSockets: 256,
      scheduling: 'lifo',
    });
  return {
    update(table) {
      const next = new Map<string, Pool>();
      for (const [app, route] of table.apps) {
        const old = pools.get(app);
        const byUrl = new Map(old?.backends.map((b) => [b.url, b]));
        const backends = route.backends.map((b) => toBackend(b, byUrl.get(b.url)));
        // Keep the agent across table swaps: its warm sockets are the point of having one.
        next.set(
          app,
          createPool(
            app,
            old?.agent ?? newAgent(),
            old?.upstream ?? createUpstreamPool({ idleMs: opts.agentIdleMs }),
            backends,
            opts,
          ),
        );
      }
      for (const [app, pool] of pools) if (!next.has(app)) pool.upstream.retire();
      // Pools of removed apps are just dropped: their idle sockets close after agentIdleMs and
      // in-flight requests (long streams included) finish on the sockets they hold.
      pools = next;
    },
    get(app) {
      return pools.get(app);
    },
    socketCount() {
      let n = 0;
      for (const p of pools.values()) {
        n += p.upstream.socketCount();
        for (const list of Object.values(p.agent.sockets)) n += list?.length ?? 0;
        for (const list of Object.values(p.agent.freeSockets)) n += list?.length ?? 0;
      }
      return n;
    },
    destroy() {
      for (const p of pools.values()) {
        p.agent.destroy();
        p.upstream.destroy();
      }
      pools = new Map();
    },
  };
}
