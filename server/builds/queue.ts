import { SlipwayError } from '../../common/errors';

/**
 * The build queue. Three rules: one build per app at a time (a second push to the same app waits
 * for the first, in arrival order), at most `owner.limit` builds of one user's apps at once (the
 * `builds` limit: one user never takes every slot), and at most `concurrency` builds on the
 * machine at once (builds of different apps run side by side up to that number). A waiting build gives up after
 * `maxWaitMs` or when its signal aborts (the pushing client went away).
 */
export interface BuildQueueOptions {
  concurrency: number;
  maxWaitMs: number;
}

export interface AcquireInput {
  appName: string;
  /** The commit being built, shown to later pushes that wait for this one. */
  sha: string;
  signal?: AbortSignal;
  /** The app's owner and their `builds` limit; `waiting` is the line shown while at the limit. */
  owner?: { key: string; limit: number; waiting: (running: number) => string };
  /** Called (at most once per reason) when the build has to wait, with a line for the user. */
  onWait?: (message: string) => void;
}

export type ReleaseSlot = () => void;

export interface BuildQueue {
  acquire(input: AcquireInput): Promise<ReleaseSlot>;
  stats(): { running: number; waiting: number; apps: string[] };
}

interface Waiter {
  grant: () => void;
}

export function createBuildQueue(opts: BuildQueueOptions): BuildQueue {
  if (!(opts.concurrency >= 1)) throw new Error('build concurrency must be at least 1');
  /** app name → sha of the build holding the app, plus the builds waiting for it (FIFO). */
  const apps = new Map<string, { sha: string; waiters: Array<Waiter & { sha: string }> }>();
  let running = 0;
  const slotWaiters: Waiter[] = [];
  /** owner key → builds of that owner's apps holding a slot, plus those waiting for their turn (FIFO). */
  const owners = new Map<string, { running: number; waiters: Waiter[] }>();

  const short = (sha: string) => sha.slice(0, 7);

  /** Waits for `enqueue`'s grant, or rejects on deadline/abort after taking the waiter back out. */
  function wait<W extends Waiter>(
    queue: W[],
    make: (grant: () => void) => W,
    deadline: number,
    input: AcquireInput,
    what: string,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const waiter = make(() => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve();
      });
      const giveUp = (err: Error) => {
        if (settled) return;
        settled = true;
        cleanup();
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(err);
      };
      const timer = setTimeout(
        () =>
          giveUp(
            new SlipwayError('TIMEOUT', `gave up after waiting ${Math.round(opts.maxWaitMs / 1000)} s for ${what}`, {
              hint: 'push again when the current build has finished (`slipway builds` shows it), or cancel it with `slipway builds:cancel`',
            }),
          ),
        Math.max(0, deadline - Date.now()),
      );
      const onAbort = () => giveUp(abortError(input.signal));
      input.signal?.addEventListener('abort', onAbort, { once: true });
      function cleanup() {
        clearTimeout(timer);
        input.signal?.removeEventListener('abort', onAbort);
      }
      queue.push(waiter);
    });
  }

  function releaseApp(appName: string): void {
    const entry = apps.get(appName);
    if (!entry) return;
    const next = entry.waiters.shift();
    if (next) {
      entry.sha = next.sha;
      next.grant();
    } else {
      apps.delete(appName);
    }
  }

  function releaseOwner(key: string | undefined): void {
    if (key === undefined) return;
    const o = owners.get(key);
    if (!o) return;
    const next = o.waiters.shift();
    if (next) next.grant();
    else if (--o.running <= 0) owners.delete(key);
  }

  function releaseSlot(): void {
    const next = slotWaiters.shift();
    if (next) next.grant();
    else running--;
  }

  return {
    async acquire(input) {
      if (input.signal?.aborted) throw abortError(input.signal);
      const deadline = Date.now() + opts.maxWaitMs;

      const entry = apps.get(input.appName);
      if (!entry) {
        apps.set(input.appName, { sha: input.sha, waiters: [] });
      } else {
        // Name the build this one waits behind: the last one queued, else the one running.
        const ahead = entry.waiters.length > 0 ? entry.waiters[entry.waiters.length - 1].sha : entry.sha;
        input.onWait?.(`waiting for build of ${short(ahead)} to finish`);
        // The granting side (releaseApp) records this build's sha as the app's holder.
        await wait(
          entry.waiters,
          (grant) => ({ grant, sha: input.sha }),
          deadline,
          input,
          `the build of ${short(ahead)} to finish`,
        );
      }

      // Holding the app now; next, one of the owner's slots, then a machine-wide slot.
      const ownerKey = input.owner?.key;
      try {
        if (input.owner) {
          const o = owners.get(input.owner.key) ?? { running: 0, waiters: [] };
          owners.set(input.owner.key, o);
          if (o.running < Math.max(1, input.owner.limit)) {
            o.running++;
          } else {
            input.onWait?.(input.owner.waiting(o.running));
            // Granted by releaseOwner without changing `running`.
            await wait(o.waiters, (grant) => ({ grant }), deadline, input, "a build slot of the app's owner");
          }
        }
      } catch (err) {
        releaseApp(input.appName);
        throw err;
      }
      try {
        if (running < opts.concurrency) {
          running++;
        } else {
          input.onWait?.(`waiting for a free build slot (${opts.concurrency} builds running)`);
          // A granted slot is handed over without changing `running`.
          await wait(slotWaiters, (grant) => ({ grant }), deadline, input, 'a free build slot');
        }
      } catch (err) {
        releaseOwner(ownerKey);
        releaseApp(input.appName);
        throw err;
      }

      let released = false;
      return () => {
        if (released) return;
        released = true;
        releaseSlot();
        releaseOwner(ownerKey);
        releaseApp(input.appName);
      };
    },
    stats() {
      let waiting = slotWaiters.length;
      for (const e of apps.values()) waiting += e.waiters.length;
      for (const o of owners.values()) waiting += o.waiters.length;
      return { running, waiting, apps: [...apps.keys()] };
    },
  };
}

function abortError(signal?: AbortSignal): Error {
  const reason = signal?.reason;
  if (reason instanceof Error) return reason;
  return new SlipwayError('BUILD_FAILED', 'build cancelled before it started', { details: { cancelled: true } });
}
