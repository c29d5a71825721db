import cluster, { type Worker } from 'node:cluster';
import { createLogger } from '../common/logger';

const logger = createLogger('slipway-router');

/**
 * Several router processes on one machine (SLIPWAY_ROUTER_WORKERS > 1, docs/router.md "Workers").
 * Node 20's net servers have no SO_REUSEPORT, so the cluster module shares the listening sockets:
 * the primary (the process install.sh and systemd know, its pid in the pid file) owns them, hands
 * accepted connections round-robin to the workers and otherwise only supervises: it restarts a
 * worker that died, and on SIGTERM/SIGINT passes the signal on and exits once every worker has
 * finished its graceful shutdown. Each worker is a whole router (routes watcher, pools, TLS, its own
 * batched writes to the one access log). /healthz answers for all of them: the worker that gets the
 * request asks the primary, which collects every worker's figures.
 */

type Stats = Record<string, unknown>;
type Msg =
  | { t: 'listening'; httpPort: number; httpsPort: number | null }
  | { t: 'stats?'; id: number }
  | { t: 'local-stats?'; id: number }
  | { t: 'local-stats'; id: number; stats: Stats }
  | { t: 'stats'; id: number; stats: Stats }
  | { t: 'stop' };

export const isWorker = () => cluster.isWorker;

/**
 * The worker's side: tells the primary it listens, answers its requests for local figures, and
 * asks it for everyone's (the /healthz body).
 */
export function joinPrimary(
  local: () => Promise<Stats>,
  onStop: () => void,
): {
  listening(httpPort: number, httpsPort: number | null): void;
  clusterStats(): Promise<Stats>;
} {
  let nextId = 0;
  const waiting = new Map<number, (s: Stats) => void>();
  process.on('message', (m: Msg) => {
    if (m?.t === 'local-stats?') {
      void local().then((stats) => process.send?.({ t: 'local-stats', id: m.id, stats } satisfies Msg));
    } else if (m?.t === 'stop') {
      onStop();
    } else if (m?.t === 'stats') {
      waiting.get(m.id)?.(m.stats);
      waiting.delete(m.id);
    }
  });
  return {
    listening(httpPort, httpsPort) {
      process.send?.({ t: 'listening', httpPort, httpsPort } satisfies Msg);
    },
    clusterStats() {
      const id = ++nextId;
      return new Promise<Stats>((resolve) => {
        // The primary always answers (missing workers are reported, not waited for); the local
        // figures are the fallback if the channel itself is gone.
        const timer = setTimeout(() => {
          waiting.delete(id);
          void local().then(resolve);
        }, 3000);
        waiting.set(id, (s) => {
          clearTimeout(timer);
          resolve(s);
        });
        process.send?.({ t: 'stats?', id } satisfies Msg);
      });
    },
  };
}

const SUMMED = ['upstreamSockets', 'clientConnections', 'uncaughtExceptions', 'memoryRss'];

/** One /healthz body for every worker: counts summed, the table named only when all serve the same. */
function combine(all: Stats[], expected: number): Stats {
  const out: Stats = { status: all.length === expected ? 'ok' : 'degraded', pid: process.pid, workers: expected };
  const gens = new Set(all.map((s) => s.generatedAt));
  // routes.json is applied by each worker on its own; until all have, no single table is served.
  out.generatedAt = gens.size === 1 ? all[0].generatedAt : null;
  out.apps = Math.min(...all.map((s) => Number(s.apps)));
  out.certificates = Math.min(...all.map((s) => Number(s.certificates)));
  for (const k of SUMMED) out[k] = all.reduce((n, s) => n + Number(s[k] ?? 0), 0);
  (out.memoryRss as number) += process.memoryUsage().rss;
  out.workerPids = all.map((s) => s.pid);
  return out;
}

export interface Supervisor {
  httpPort: number;
  httpsPort: number | null;
  /** Every worker shuts down gracefully; resolves when all have exited (SIGKILL after graceMs). */
  stop(graceMs?: number): Promise<void>;
}

/** The primary: forks `count` workers (this same script) and resolves once all of them listen. */
export function superviseWorkers(count: number): Promise<Supervisor> {
  const byIndex = new Map<number, Worker>();
  let stopping = false;
  let restarts = 0;
  let nextStats = 0;
  const collecting = new Map<number, { got: Stats[]; done(): void }>();

  const fork = (index: number) => {
    const w = cluster.fork({ SLIPWAY_ROUTER_WORKER_INDEX: String(index) });
    byIndex.set(index, w);
    w.on('message', (m: Msg) => onMessage(w, m));
    w.on('exit', (code, signal) => {
      if (byIndex.get(index) === w) byIndex.delete(index);
      if (stopping) return;
      // A worker that died (crash, OOM kill): its connections are gone, the others keep serving.
      const delay = Math.min(10_000, 250 * 2 ** Math.min(restarts++, 6));
      logger.error(
        `router worker ${index} (pid ${w.process.pid}) exited (${signal ?? code}); restarting in ${delay} ms`,
      );
      setTimeout(() => !stopping && fork(index), delay).unref();
    });
    return w;
  };

  const onMessage = (from: Worker, m: Msg) => {
    if (m?.t === 'stats?') {
      const id = ++nextStats;
      const live = [...byIndex.values()].filter((w) => w.isConnected());
      const entry = {
        got: [] as Stats[],
        done: () => {
          if (!collecting.delete(id)) return;
          clearTimeout(timer);
          if (from.isConnected()) from.send({ t: 'stats', id: m.id, stats: combine(entry.got, count) } satisfies Msg);
        },
      };
      const timer = setTimeout(entry.done, 1000);
      collecting.set(id, entry);
      for (const w of live) w.send({ t: 'local-stats?', id } satisfies Msg);
    } else if (m?.t === 'local-stats') {
      const entry = collecting.get(m.id);
      if (!entry) return;
      entry.got.push(m.stats);
      if (entry.got.length >= [...byIndex.values()].filter((w) => w.isConnected()).length) entry.done();
    }
  };

  return new Promise((resolve, reject) => {
    const ports: Array<{ httpPort: number; httpsPort: number | null }> = [];
    const early = (w: Worker) => (code: number) => {
      if (ports.length < count) reject(new Error(`router worker ${w.id} exited with ${code} before listening`));
    };
    for (let i = 0; i < count; i++) {
      const w = fork(i);
      const onEarlyExit = early(w);
      w.once('exit', onEarlyExit);
      w.on('message', (m: Msg) => {
        if (m?.t !== 'listening') return;
        w.off('exit', onEarlyExit);
        ports.push(m);
        if (ports.length !== count) return;
        resolve({
          httpPort: ports[0].httpPort,
          httpsPort: ports[0].httpsPort,
          stop(graceMs = 12_000) {
            stopping = true;
            const workers = [...byIndex.values()];
            return Promise.all(
              workers.map(
                (wk) =>
                  new Promise<void>((done) => {
                    if (wk.isDead()) return done();
                    const kill = setTimeout(() => wk.process.kill('SIGKILL'), graceMs);
                    wk.once('exit', () => {
                      clearTimeout(kill);
                      done();
                    });
                    // A message, not a signal: under systemd the workers get SIGTERM too, and a
                    // second signal would cut their graceful shutdown short.
                    if (wk.isConnected()) wk.send({ t: 'stop' } satisfies Msg);
                    else wk.process.kill('SIGTERM');
                  }),
              ),
            ).then(() => undefined);
          },
        });
      });
    }
  });
}
