import { SlipwayError } from '../../common/errors';
import type { ReleaseRow } from '../state/repos/releases';
import { nextAttempt, restartDelayMs } from './backoff';
import {
  checkAnswersHttp,
  parseHealthChecks,
  runHealthChecks,
  type CheckResult,
  type ContainerProbe,
} from './healthchecks';
import { diagnoseBoot, parseProcNetTcp } from './boot-diagnosis';
import { containerName, dynoEnv, dynosOf, type Ctx, type Dyno } from './context';
import { waitText, type DeployOutput, type DynoInfo, type DynoState, type WaitProgress } from './types';
import { portOf, processCommand } from './process-command';

/**
 * The life of one dyno: create its container, boot it (start, follow its output into the logs,
 * health-check web dynos), notice crashes and restart them with back-off, and drain it when it is
 * replaced or scaled away.
 */

export async function createDyno(
  ctx: Ctx,
  app: string,
  release: ReleaseRow,
  type: string,
  index: number,
  size: string,
): Promise<Dyno> {
  const name = `${type}.${index}`;
  const id = await ctx.driver.create({
    name: containerName(app, name, release.version),
    image: await ctx.imageFor(release),
    ...processCommand(release, type),
    env: dynoEnv(ctx, app, release, name),
    labels: {
      'io.slipway.app': app,
      'io.slipway.process': type,
      'io.slipway.release': String(release.version),
      'io.slipway.dyno': String(index),
    },
    size,
    publishPort: type === 'web' ? portOf(release, ctx.opts.webPort) : undefined,
    placement: placementOf(ctx, app, type),
  });
  const now = Date.now();
  return {
    app,
    type,
    index,
    name,
    release: release.version,
    containerId: id,
    address: null,
    size,
    state: 'starting',
    since: now,
    startedAt: now,
    restarts: 0,
    nextRestartAt: null,
    exitCode: null,
    retired: false,
  };
}

const placementOf = (ctx: Ctx, app: string, type: string): string[] => {
  const row = ctx.state.apps.get(app);
  return row ? ctx.state.formation.placement(row.id, type) : [];
};

function setState(ctx: Ctx, d: Dyno, state: DynoState): void {
  if (d.state === state) return;
  ctx.platformLog(d.app, d.name, `State changed from ${d.state} to ${state}`);
  d.state = state;
  d.since = Date.now();
}

export function probeOf(ctx: Ctx, d: Dyno): ContainerProbe {
  return {
    async exited() {
      const info = await ctx.driver.inspect(d.containerId);
      if (!info) return -1;
      return info.running ? undefined : (info.exitCode ?? -1);
    },
  };
}

/** The check that fails when Docker gave the new container no published port. */
const NO_PORT_CHECK = 'starting the web dyno';

/** Progress of a wait is reported at least this often (issue 14: never silent for long). */
export const PROGRESS_EVERY_MS = 5000;

/**
 * How long a new web dyno of this app has to answer: `ps:boot-timeout`, else app.json
 * `boot_timeout`, else the platform default; never more than the platform maximum.
 */
export function bootTimeoutMs(ctx: Ctx, appName: string, release: ReleaseRow): number {
  const s = ctx.state.apps.get(appName)?.bootTimeoutS ?? release.appJson.bootTimeout;
  const ms = typeof s === 'number' && s > 0 ? s * 1000 : ctx.opts.bootTimeoutMs;
  return Math.min(ms, Math.max(ctx.opts.bootTimeoutMaxMs, ctx.opts.bootTimeoutMs));
}

/** Lines about a deploy's progress: the app's log (`slipway[deploy]`, which the CLI follows) and the caller. */
export function deployOutput(ctx: Ctx, app: string, output?: DeployOutput): Reporter {
  const line = (l: string) => {
    ctx.deps.logs.write(app, { source: 'platform', dyno: 'deploy', line: l });
    output?.(l);
  };
  return Object.assign(line, {
    wait(p: WaitProgress) {
      const text = waitText(p);
      ctx.deps.logs.write(app, { source: 'platform', dyno: 'deploy', line: text });
      if (output?.wait) output.wait(p);
      else output?.(text);
    },
  });
}

/** A deploy's progress reporter inside the runtime: lines and waits (deployOutput). */
export type Reporter = ((line: string) => void) & { wait: (p: WaitProgress) => void };

/**
 * Health check for a started web dyno, per the release's app.json or the default HTTP answer.
 * Says every 5 s what it waits for (`waiting for web.1 to answer on $PORT (12 s of 60)`).
 */
export async function checkWeb(
  ctx: Ctx,
  d: Dyno,
  release: ReleaseRow,
  say: Reporter = deployOutput(ctx, d.app),
): Promise<CheckResult> {
  if (!d.address)
    return {
      ok: false,
      check: NO_PORT_CHECK,
      reason: 'Docker did not publish its port (the container may have stopped at once)',
    };
  const base = `http://${d.address}`;
  const checks = parseHealthChecks(release.appJson.healthchecks as Record<string, unknown[]> | undefined).filter(
    (c) => c.type !== 'liveness',
  );
  const limitMs = bootTimeoutMs(ctx, d.app, release);
  const started = Date.now();
  let phase: 'answer' | 'checks' = 'answer';
  const ticker = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    say.wait(
      phase === 'answer'
        ? { dyno: d.name, waitingFor: 'answer', elapsedS: s, limitS: Math.round(limitMs / 1000) }
        : { dyno: d.name, waitingFor: 'health-checks', elapsedS: s },
    );
  }, PROGRESS_EVERY_MS);
  try {
    // The app's checks count their attempts from when the port first answers: a slow boot is
    // bounded by the boot timeout, not by attempts × wait (a frequent source of confusing failures).
    const answering = await checkAnswersHttp(base, probeOf(ctx, d), limitMs);
    if (!answering.ok || checks.length === 0) return answering;
    phase = 'checks';
    return await runHealthChecks(base, checks, probeOf(ctx, d));
  } finally {
    clearInterval(ticker);
  }
}

export function followLogs(ctx: Ctx, d: Dyno, sinceMs: number): void {
  d.stopLogs?.();
  d.stopLogs = ctx.driver.followLogs(d.containerId, sinceMs, (line) =>
    ctx.deps.logs.write(d.app, { source: 'app', dyno: d.name, line }),
  );
}

/** Starts the container and follows its output; fills in the published address. */
export async function startDyno(ctx: Ctx, d: Dyno, logsSince = 0): Promise<void> {
  await ctx.driver.start(d.containerId);
  d.startedAt = Date.now();
  followLogs(ctx, d, logsSince);
  const info = await ctx.driver.inspect(d.containerId);
  d.address = info?.address ?? null;
}

/**
 * Boots a dyno that is already in the table (scale-up, adoption gaps, crash restarts): web dynos
 * join the routes only after passing their check; a failed check counts as a crash.
 */
export async function bootInPlace(ctx: Ctx, d: Dyno, release: ReleaseRow | undefined, logsSince = 0): Promise<void> {
  try {
    await startDyno(ctx, d, logsSince);
  } catch (err) {
    if (!d.retired) crash(ctx, d, null, `could not start: ${(err as Error).message}`);
    return;
  }
  if (d.retired) return;
  if (d.type !== 'web' || !release) {
    setState(ctx, d, 'up');
    return;
  }
  const result = await checkWeb(ctx, d, release).catch((err: Error) => ({
    ok: false as const,
    check: 'health check',
    reason: err.message,
  }));
  if (d.retired || (d.state !== 'starting' && d.state !== 'restarting')) return; // a die event got there first
  if (result.ok) {
    setState(ctx, d, 'up');
    await ctx.publish();
  } else {
    // Crash first, so the reason is what the logs show rather than the kill's exit status.
    crash(ctx, d, null, `${result.check}: ${result.reason}`);
    await ctx.driver.stop(d.containerId, 0).catch(() => {});
  }
}

/** A dyno stopped without being asked to: mark it crashed and schedule a restart with back-off. */
export function crash(ctx: Ctx, d: Dyno, exitCode: number | null, reason?: string): void {
  if (ctx.stopped || d.retired || d.state === 'crashed') return;
  const wasUp = d.state === 'up';
  const attempt = nextAttempt(d.restarts, Date.now() - d.startedAt, ctx.opts.backoff);
  const delay = restartDelayMs(attempt, ctx.opts.backoff);
  d.restarts = attempt + 1;
  d.exitCode = exitCode;
  d.nextRestartAt = Date.now() + delay;
  if (exitCode !== null) ctx.platformLog(d.app, d.name, `Process exited with status ${exitCode}`);
  if (reason) ctx.platformLog(d.app, d.name, reason);
  setState(ctx, d, 'crashed');
  ctx.platformLog(
    d.app,
    d.name,
    `Restarting in ${formatDelay(delay)} (crash ${d.restarts}; back-off doubles up to ${formatDelay(ctx.opts.backoff.capMs)})`,
  );
  if (wasUp && d.type === 'web') void ctx.publish();
  clearTimeout(d.timer);
  d.timer = setTimeout(() => void restart(ctx, d), delay);
  d.timer.unref?.();
}

async function restart(ctx: Ctx, d: Dyno): Promise<void> {
  if (d.retired || ctx.stopped) return;
  setState(ctx, d, 'restarting');
  d.nextRestartAt = null;
  const app = ctx.state.apps.get(d.app);
  const release = app ? ctx.state.releases.get(app.id, d.release) : undefined;
  // "restarting" lasts until the dyno is up again (web: until it passes its check).
  await bootInPlace(ctx, d, release, Date.now());
}

export const formatDelay = (ms: number) =>
  ms >= 60_000 ? `${Math.round(ms / 6000) / 10} min` : `${Math.round(ms / 100) / 10} s`;

/**
 * Takes a dyno out of service: out of the table (and so out of the routes) at once, then, after
 * the router has had time to reload, SIGTERM, the grace period, SIGKILL, and removal.
 */
export function retire(
  ctx: Ctx,
  d: Dyno,
  opts: { settle: boolean; publish?: boolean } = { settle: true },
): Promise<void> {
  d.retired = true;
  clearTimeout(d.timer);
  const list = dynosOf(ctx, d.app);
  const i = list.indexOf(d);
  if (i >= 0) list.splice(i, 1);
  // Busy: the orphan sweep must not force-remove a container during its grace period.
  ctx.busy.add(d.containerId);
  const drain = (async () => {
    if (opts.publish) await ctx.publish();
    if (opts.settle && d.type === 'web') await new Promise((r) => setTimeout(r, ctx.opts.routeSettleMs));
    ctx.platformLog(d.app, d.name, `Stopping process with SIGTERM (release v${d.release})`);
    try {
      await ctx.driver.stop(d.containerId, ctx.opts.drainGraceMs);
      const info = await ctx.driver.inspect(d.containerId);
      if (info?.exitCode != null) ctx.platformLog(d.app, d.name, `Process exited with status ${info.exitCode}`);
    } finally {
      d.stopLogs?.();
      await ctx.driver.remove(d.containerId);
    }
  })().catch((err: Error) => ctx.platformLog(d.app, d.name, `could not stop container: ${err.message}`));
  ctx.drains.add(drain);
  void drain.finally(() => {
    ctx.drains.delete(drain);
    ctx.busy.delete(d.containerId);
  });
  return drain;
}

export function toInfo(d: Dyno): DynoInfo {
  return {
    type: d.type,
    index: d.index,
    name: d.name,
    state: d.state,
    since: new Date(d.since).toISOString(),
    release: d.release,
    containerId: d.containerId,
    address: d.address,
    size: d.size,
    restarts: d.restarts,
    nextRestartAt: d.nextRestartAt ? new Date(d.nextRestartAt).toISOString() : null,
    exitCode: d.exitCode,
  };
}

/** The error a failed deploy health check raises: the failing check and the container's last lines. */
/**
 * The error of a web dyno that failed its boot check, by cause (boot-diagnosis.ts): the exit
 * status, or the dyno's listening sockets read from /proc/net/tcp{,6} inside it while it still runs.
 */
export async function bootError(
  ctx: Ctx,
  d: Dyno,
  release: ReleaseRow,
  r: { check: string; reason: string; exitCode?: number },
  lines: string[],
): Promise<SlipwayError> {
  let exitCode = r.exitCode;
  if (exitCode === undefined) {
    const info = await ctx.driver.inspect(d.containerId).catch(() => undefined);
    if (info && !info.running) exitCode = info.exitCode ?? undefined;
  }
  const sockets =
    exitCode === undefined
      ? await ctx.driver
          .execRead(d.containerId, ['cat', '/proc/net/tcp', '/proc/net/tcp6'], 5000)
          .catch(() => undefined)
      : undefined;
  // A named app.json check that failed after the port answered: its own words say it best.
  const named =
    exitCode === undefined && !r.check.startsWith('the web process must answer HTTP') && r.check !== NO_PORT_CHECK;
  const diag = named
    ? {
        cause: 'health-check',
        message: `${d.name} failed the health check (${r.check}): ${r.reason}`,
        hint: 'fix what the check asks for, or the check (app.json healthchecks.web)',
      }
    : diagnoseBoot({
        dyno: d.name,
        port: ctx.opts.webPort,
        timeoutS: Math.round(bootTimeoutMs(ctx, d.app, release) / 1000),
        exitCode,
        logs: lines,
        listening: sockets === undefined ? undefined : parseProcNetTcp(sockets),
        reason: r.reason,
      });
  // Only say something keeps serving when something does.
  const serving = ctx.state.apps.get(d.app)?.currentReleaseId
    ? ' The previous release keeps serving.'
    : ' Nothing is serving yet: the app has no running release.';
  const tail = lines.length
    ? `\nLast lines of ${d.name} (v${release.version}):\n${lines.map((l) => `  ${l}`).join('\n')}`
    : `\n${d.name} printed nothing.`;
  return new SlipwayError('DEPLOY_FAILED', `v${release.version} was not deployed: ${diag.message}.${serving}${tail}`, {
    hint: `${diag.hint}; see the app's logs with: slipway logs -a ${d.app}`,
    details: { cause: diag.cause, check: r.check, reason: r.reason, dyno: d.name, logs: lines },
  });
}
