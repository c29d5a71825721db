import type { DeployOutput } from './types';
import { randomInt } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { SlipwayError } from '../../common/errors';
import type { ReleaseRow } from '../state/repos/releases';
import { containerName, currentRelease, dynoEnv, type Ctx } from './context';
import { DEFAULT_SIZE, assertSize } from './sizes';
import { PROGRESS_EVERY_MS, deployOutput, formatDelay } from './supervisor';
import { commandLine } from './process-command';

/**
 * One-off dynos: `slipway run` (attached, optional TTY, exit code passed through), `run:detached`
 * (output to the app's logs) and the release phase. They run the release's image through the
 * launcher (`/cnb/lifecycle/launcher CMD`: bash with the app's profile sourced) and are removed
 * when they exit. The orphan sweep leaves them alone (label io.slipway.oneoff=true).
 */
export interface OneOffOptions {
  appName: string;
  /** A shell command line, as `heroku run` takes it. */
  command: string;
  size?: string;
  /** Extra environment for this run only (e.g. `run -e`). */
  env?: Record<string, string>;
  /** The owner's one-off limits: how many may run at once across the owner's apps, and for how long. */
  limits?: {
    concurrent: number;
    /** The apps whose one-offs count together against `concurrent` (the owner's; this app when absent). */
    apps?: string[];
    maxSeconds: number;
    refuse: (running: number) => Error;
    stopped: (seconds: number) => string;
  };
}

export interface AttachedOptions extends OneOffOptions {
  tty?: boolean;
  stdin?: Readable;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  rows?: number;
  cols?: number;
}

function releaseFor(ctx: Ctx, appName: string): ReleaseRow {
  const app = ctx.state.apps.require(appName);
  const release = currentRelease(ctx, app);
  if (!release) {
    throw new SlipwayError('CONFLICT', `app "${appName}" has no release yet, so there is nothing to run`, {
      hint: 'deploy it first: git push slipway main',
    });
  }
  return release;
}

async function createOneOff(
  ctx: Ctx,
  appName: string,
  release: ReleaseRow,
  dyno: string,
  o: OneOffOptions & { tty?: boolean; stdin?: boolean },
) {
  if (typeof o.command !== 'string' || o.command.trim() === '') {
    throw new SlipwayError('INVALID_INPUT', 'no command to run', { hint: 'slipway run -a APP -- bash' });
  }
  return ctx.driver.create({
    name: containerName(appName, dyno, release.version),
    image: await ctx.imageFor(release),
    ...commandLine(release, o.command),
    env: { ...dynoEnv(ctx, appName, release, dyno), ...(o.env ?? {}) },
    labels: {
      'io.slipway.app': appName,
      'io.slipway.process': dyno.split('.')[0],
      'io.slipway.release': String(release.version),
      'io.slipway.dyno': dyno.split('.')[1] ?? '0',
      'io.slipway.oneoff': 'true',
    },
    size: o.size ? assertSize(o.size) : DEFAULT_SIZE,
    tty: o.tty,
    openStdin: o.stdin,
  });
}

const runName = () => `run.${randomInt(1000, 10000)}`;

/** One-offs being created (not yet tracked), per runtime and app: the concurrency check counts them. */
const starting = new WeakMap<Ctx, Map<string, number>>();

/** Takes a one-off place for the app or throws the limit's error; returns the function that gives it back. */
function reserve(ctx: Ctx, app: string, o: OneOffOptions): () => void {
  if (!o.limits) return () => {};
  let m = starting.get(ctx);
  if (!m) starting.set(ctx, (m = new Map()));
  const counted = new Set([app, ...(o.limits.apps ?? [])]);
  let running = 0;
  for (const a of counted) running += (ctx.oneOffs.get(a)?.size ?? 0) + (m.get(a) ?? 0);
  if (running >= o.limits.concurrent) throw o.limits.refuse(running);
  m.set(app, (m.get(app) ?? 0) + 1);
  let given = false;
  return () => {
    if (given) return;
    given = true;
    const n = (m.get(app) ?? 1) - 1;
    if (n <= 0) m.delete(app);
    else m.set(app, n);
  };
}

/** Stops the one-off when it outlives the owner's one-off-seconds limit (the reason goes to its logs). */
function deadline(
  ctx: Ctx,
  app: string,
  dyno: string,
  id: string,
  o: OneOffOptions,
  say?: (line: string) => void,
): () => void {
  if (!o.limits) return () => {};
  const seconds = o.limits.maxSeconds;
  const timer = setTimeout(() => {
    const line = o.limits!.stopped(seconds);
    ctx.platformLog(app, dyno, line);
    say?.(line);
    void ctx.driver.stop(id, 2000).catch(() => {});
  }, seconds * 1000);
  return () => clearTimeout(timer);
}

function track(ctx: Ctx, app: string, id: string, dyno: string, release: ReleaseRow, o: OneOffOptions): () => void {
  let m = ctx.oneOffs.get(app);
  if (!m) ctx.oneOffs.set(app, (m = new Map()));
  m.set(id, { dyno, since: Date.now(), release: release.version, size: o.size ?? DEFAULT_SIZE, command: o.command });
  ctx.busy.add(id);
  return () => {
    ctx.oneOffs.get(app)?.delete(id);
    ctx.busy.delete(id);
  };
}

/** `slipway run`: attached; resolves with the command's exit code once the container is gone. */
export async function runOneOff(ctx: Ctx, o: AttachedOptions): Promise<{ exitCode: number; dyno: string }> {
  // The limit is checked first: a refused run should say so, whatever else is wrong.
  const unreserve = reserve(ctx, o.appName, o);
  const dyno = runName();
  let release: ReleaseRow;
  let id: string;
  try {
    release = releaseFor(ctx, o.appName);
    id = await createOneOff(ctx, o.appName, release, dyno, { ...o, stdin: !!o.stdin });
  } finally {
    unreserve();
  }
  const untrack = track(ctx, o.appName, id, dyno, release, o);
  ctx.platformLog(o.appName, dyno, `Starting process with command \`${o.command}\` (attached)`);
  const undeadline = deadline(ctx, o.appName, dyno, id, o, (line) => o.stderr.write(`\n${line}\n`));
  try {
    const exitCode = await ctx.driver.runAttached(
      id,
      { stdin: o.stdin, stdout: o.stdout as Writable, stderr: o.stderr as Writable, rows: o.rows, cols: o.cols },
      !!o.tty,
    );
    ctx.platformLog(o.appName, dyno, `Process exited with status ${exitCode}`);
    return { exitCode, dyno };
  } finally {
    undeadline();
    await ctx.driver.remove(id);
    untrack();
  }
}

/** `run:detached`: returns at once; output goes to the app's logs as dyno run.NNNN. */
export async function runDetached(ctx: Ctx, o: OneOffOptions): Promise<{ dyno: string; containerId: string }> {
  // The limit is checked first: a refused run should say so, whatever else is wrong.
  const unreserve = reserve(ctx, o.appName, o);
  const dyno = runName();
  let release: ReleaseRow;
  let id: string;
  try {
    release = releaseFor(ctx, o.appName);
    id = await createOneOff(ctx, o.appName, release, dyno, o);
  } finally {
    unreserve();
  }
  const untrack = track(ctx, o.appName, id, dyno, release, o);
  ctx.platformLog(o.appName, dyno, `Starting process with command \`${o.command}\` (detached)`);
  await ctx.driver.start(id);
  const undeadline = deadline(ctx, o.appName, dyno, id, o);
  const stopLogs = ctx.driver.followLogs(id, 0, (line) =>
    ctx.deps.logs.write(o.appName, { source: 'app', dyno, line }),
  );
  void ctx.driver
    .wait(id)
    .then((code) => ctx.platformLog(o.appName, dyno, `Process exited with status ${code}`))
    .catch(() => {})
    .finally(async () => {
      await new Promise((r) => setTimeout(r, 500)); // let the last lines arrive
      undeadline();
      stopLogs();
      await ctx.driver.remove(id).catch(() => {});
      untrack();
    });
  return { dyno, containerId: id };
}

/** Line-splitting writable that hands each line to fn. */
function lineWriter(fn: (line: string) => void): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      rest += chunk.toString();
      let i: number;
      while ((i = rest.indexOf('\n')) >= 0) {
        fn(rest.slice(0, i).replace(/\r$/, ''));
        rest = rest.slice(i + 1);
      }
      cb();
    },
    final(cb) {
      if (rest) fn(rest);
      cb();
    },
  });
}

/** The release phase (Procfile `release:`): must exit 0 or the deploy is aborted. */
export async function runReleasePhase(
  ctx: Ctx,
  appName: string,
  release: ReleaseRow,
  output: DeployOutput,
): Promise<void> {
  if (!release.releaseCommand) return;
  const dyno = 'release.1';
  // Status lines go to the app's log too (the CLI follows them); the command's own lines are
  // logged as app[release.1] below.
  const status = deployOutput(ctx, appName, output);
  status(`Running release command: ${release.releaseCommand}`);
  const id = await createOneOff(ctx, appName, release, dyno, { appName, command: release.releaseCommand });
  ctx.busy.add(id);
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    output(line);
    ctx.deps.logs.write(appName, { source: 'app', dyno, line });
  };
  const out = lineWriter(onLine);
  const err = lineWriter(onLine);
  let exitCode: number;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void ctx.driver.stop(id, 0).catch(() => {});
  }, ctx.opts.releaseTimeoutMs);
  const started = Date.now();
  const ticker = setInterval(() => {
    status.wait({
      dyno,
      waitingFor: 'release-phase',
      elapsedS: Math.round((Date.now() - started) / 1000),
      limitS: Math.round(ctx.opts.releaseTimeoutMs / 1000),
    });
  }, PROGRESS_EVERY_MS);
  try {
    exitCode = await ctx.driver.runAttached(id, { stdout: out, stderr: err }, false);
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    out.end();
    err.end();
    await ctx.driver.remove(id);
    ctx.busy.delete(id);
  }
  ctx.platformLog(appName, dyno, `Release command exited with status ${exitCode}`);
  if (timedOut) {
    throw new SlipwayError(
      'DEPLOY_FAILED',
      `the release command of v${release.version} (${release.releaseCommand}) ran longer than ${formatDelay(ctx.opts.releaseTimeoutMs)} and was stopped, so v${release.version} was not deployed`,
      {
        hint: 'make the release command finish sooner (long migrations can run with: slipway run:detached)',
        details: { logs: tail },
      },
    );
  }
  if (exitCode !== 0) {
    throw new SlipwayError(
      'DEPLOY_FAILED',
      `the release command of v${release.version} (${release.releaseCommand}) exited with status ${exitCode}, so v${release.version} was not deployed${ctx.state.apps.get(appName)?.currentReleaseId ? '; the previous release keeps serving' : ''}`,
      {
        hint: 'fix the release command (Procfile "release:") and push again; its output is above and in: slipway logs --dyno release',
        details: { exitCode, logs: tail },
      },
    );
  }
}
