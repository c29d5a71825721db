import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { DEFAULT_BACKOFF, nextAttempt, restartDelayMs } from '../runtime/backoff';
import type { AddonRow, AddonSecret } from '../state/repos/addons';
import type { ServiceContainers } from './containers';

/**
 * Keeps every service running like the runtime keeps dynos running: a container that dies without
 * being asked to is started again after the dynos' back-off (1 s, doubling, capped at 5 minutes;
 * reset after 10 minutes of healthy running), and a health check (pg_isready / PING) runs every
 * healthIntervalMs. State is in memory; after a server restart running services are adopted.
 */
export type ServiceStatus = 'starting' | 'up' | 'unhealthy' | 'crashed' | 'stopped';

export interface ServiceHealth {
  status: ServiceStatus;
  since: string;
  restarts: number;
  lastCheck: string | null;
  lastError: string | null;
  nextRestartAt: string | null;
}

interface Entry extends ServiceHealth {
  attempt: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
  /** Set while the platform itself stops it (restart, restore, destroy): a die is then expected. */
  holding: number;
}

export interface SupervisorDeps {
  docker: Docker;
  home: string;
  containers: ServiceContainers;
  healthIntervalMs: number;
  /** Current add-on rows and secrets (the database is the desired state). */
  addon(name: string): AddonRow | undefined;
  secret(addon: AddonRow): AddonSecret;
  /** Makes sure the container exists (created from the row) and is on its apps' networks. */
  ensure(addon: AddonRow): Promise<void>;
  log(addon: string, line: string): void;
}

export function healthCommand(addon: AddonRow, secret: AddonSecret): { cmd: string[]; env?: string[] } {
  return addon.kind === 'postgres'
    ? { cmd: ['pg_isready', '-q', '-h', '/tmp', '-d', 'app'] }
    : {
        cmd: ['redis-cli', '-h', '127.0.0.1', '--user', secret.user, 'PING'],
        env: [`REDISCLI_AUTH=${secret.password}`],
      };
}

export function createSupervisor(deps: SupervisorDeps) {
  const entries = new Map<string, Entry>();
  let stopWatch: (() => void) | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const now = () => new Date().toISOString();

  const entry = (name: string): Entry => {
    let e = entries.get(name);
    if (!e) {
      e = {
        status: 'starting',
        since: now(),
        restarts: 0,
        lastCheck: null,
        lastError: null,
        nextRestartAt: null,
        attempt: 0,
        startedAt: Date.now(),
        holding: 0,
      };
      entries.set(name, e);
    }
    return e;
  };
  const set = (e: Entry, status: ServiceStatus) => {
    if (e.status !== status) e.since = now();
    e.status = status;
  };

  async function check(name: string): Promise<boolean> {
    const addon = deps.addon(name);
    if (!addon) return false;
    const e = entry(name);
    try {
      const h = healthCommand(addon, deps.secret(addon));
      const r = await deps.containers.execText(name, h.cmd, { env: h.env });
      e.lastCheck = now();
      const ok = r.code === 0 && (addon.kind === 'postgres' || r.stdout.trim() === 'PONG');
      if (ok) set(e, 'up');
      else if (e.status === 'up') set(e, 'unhealthy');
      e.lastError = ok ? null : (r.stdout + r.stderr).trim().slice(0, 300) || `exit ${r.code}`;
      return ok;
    } catch (err) {
      e.lastCheck = now();
      e.lastError = (err as Error).message;
      return false;
    }
  }

  async function startOne(name: string): Promise<void> {
    const addon = deps.addon(name);
    if (!addon || stopped) return;
    const e = entry(name);
    await deps.ensure(addon);
    const running = (await deps.containers.inspect(name))?.State.Running;
    e.nextRestartAt = null;
    if (running) {
      // Adopted after a server restart: its health is known at once, not at the next tick.
      await check(name);
      return;
    }
    await deps.containers.start(name);
    e.startedAt = Date.now();
    set(e, 'starting');
  }

  function onDie(name: string, exitCode: number | null): void {
    const e = entries.get(name);
    if (!e || stopped || e.holding > 0 || !deps.addon(name)) return;
    // The event of a stop the platform asked for can arrive after the service is running again.
    void deps.containers.inspect(name).then(
      (info) => {
        if (!info?.State.Running) crashed(name, e, exitCode);
      },
      () => crashed(name, e, exitCode),
    );
  }

  function crashed(name: string, e: Entry, exitCode: number | null): void {
    if (stopped || e.holding > 0 || !deps.addon(name)) return;
    clearTimeout(e.timer);
    e.attempt = nextAttempt(e.attempt, Date.now() - e.startedAt, DEFAULT_BACKOFF);
    const delay = restartDelayMs(e.attempt, DEFAULT_BACKOFF);
    e.attempt++;
    set(e, 'crashed');
    e.nextRestartAt = new Date(Date.now() + delay).toISOString();
    deps.log(name, `${name} exited with code ${exitCode ?? '?'}; restarting in ${Math.round(delay / 1000)} s`);
    e.timer = setTimeout(() => {
      e.restarts++;
      startOne(name)
        .then(() => deps.log(name, `${name} restarted (restart ${e.restarts})`))
        .catch((err: Error) => {
          e.lastError = err.message;
          crashed(name, e, null);
        });
    }, delay);
  }

  function watch(): () => void {
    let current: Readable | undefined;
    let retry: NodeJS.Timeout | undefined;
    let done = false;
    const connect = () => {
      if (done) return;
      deps.docker
        .getEvents({
          filters: { type: ['container'], event: ['die'], label: [`io.slipway.home=${deps.home}`, 'io.slipway.addon'] },
        })
        .then((s) => {
          current = s as unknown as Readable;
          if (done) return current.destroy();
          let buf = '';
          current.on('data', (d: Buffer) => {
            buf += d.toString();
            let i: number;
            while ((i = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              try {
                const ev = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } };
                const a = ev.Actor?.Attributes ?? {};
                if (a['io.slipway.addon'])
                  onDie(a['io.slipway.addon'], a.exitCode === undefined ? null : Number(a.exitCode));
              } catch {
                /* partial line */
              }
            }
          });
          current.on('close', () => {
            if (!done) retry = setTimeout(connect, 1000);
          });
          current.on('error', () => {});
        })
        .catch(() => {
          if (!done) retry = setTimeout(connect, 1000);
        });
    };
    connect();
    return () => {
      done = true;
      clearTimeout(retry);
      current?.destroy();
    };
  }

  return {
    /** Adopts running services, starts stopped ones, watches exits and health. */
    async start(names: string[]): Promise<void> {
      stopWatch = watch();
      for (const name of names) {
        try {
          await startOne(name);
        } catch (err) {
          deps.log(name, `${name} could not start: ${(err as Error).message}`);
          crashed(name, entry(name), null);
        }
      }
      const tick = async () => {
        for (const name of [...entries.keys()]) {
          // Destroyed (forgotten) while an earlier check of this pass ran.
          const e = entries.get(name);
          if (!e || e.status === 'crashed' || e.holding > 0) continue;
          await check(name);
        }
      };
      const safeTick = () =>
        tick().catch((err: Error) => console.error(`slipway-server: add-on health checks: ${err.message}`));
      void safeTick();
      healthTimer = setInterval(() => void safeTick(), deps.healthIntervalMs);
      healthTimer.unref?.();
    },
    stop(): void {
      stopped = true;
      stopWatch?.();
      clearInterval(healthTimer);
      for (const e of entries.values()) clearTimeout(e.timer);
    },
    /** Polls the health check until it passes (after create, restart, restore). */
    async waitHealthy(name: string, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (await check(name)) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(
        `${name} did not become healthy within ${Math.round(timeoutMs / 1000)} s: ${entry(name).lastError ?? 'no answer'}`,
      );
    },
    startOne,
    /** Runs fn while exits of the service are expected (not crashes). */
    async hold<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const e = entry(name);
      e.holding++;
      clearTimeout(e.timer);
      try {
        return await fn();
      } finally {
        e.holding--;
      }
    },
    health(name: string): ServiceHealth {
      const { status, since, restarts, lastCheck, lastError, nextRestartAt } = entry(name);
      return { status, since, restarts, lastCheck, lastError, nextRestartAt };
    },
    forget(name: string): void {
      clearTimeout(entries.get(name)?.timer);
      entries.delete(name);
    },
  };
}
export type Supervisor = ReturnType<typeof createSupervisor>;
