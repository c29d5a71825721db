import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SlipwayError } from '../../common/errors';

const run = promisify(execFile);
const ZERO = /^0+$/;
const short = (sha: string) => sha.slice(0, 7);

/**
 * One push per app from its build until git has updated the ref. git's receive-pack updates the
 * ref only after the pre-receive hook exits 0, expecting the ref to still hold the old value the
 * client sent; two pushes from the same base would both pass a check made before that update and
 * the second would be built and released while git then refuses its ref (issue 14). So a push
 * holds its app's lock from before its ref check until its receive-pack has exited (the ref is
 * then final), and the next push of the app checks the ref only after that.
 *
 * Waiters are served in arrival order; a waiter that gives up (its client went away) still passes
 * the turn on in order.
 */
export interface PushLocks {
  acquire(input: {
    appName: string;
    sha: string;
    signal?: AbortSignal;
    onWait?: (line: string) => void;
  }): Promise<() => void>;
}

export function createPushLocks(): PushLocks {
  const tails = new Map<string, { sha: string; done: Promise<void> }>();
  return {
    async acquire({ appName, sha, signal, onWait }) {
      const prev = tails.get(appName);
      let resolve!: () => void;
      const mine = { sha, done: new Promise<void>((r) => (resolve = r)) };
      tails.set(appName, mine);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (tails.get(appName) === mine) tails.delete(appName);
        resolve();
      };
      if (prev) {
        onWait?.(`waiting for build of ${short(prev.sha)} to finish`);
        try {
          await untilAborted(prev.done, signal);
        } catch (err) {
          // Keep the order: the one behind us waits for the one ahead of us.
          void prev.done.then(release);
          throw err;
        }
      }
      return release;
    },
  };
}

function untilAborted(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const onAbort = () =>
      reject(new SlipwayError('BUILD_FAILED', 'push cancelled before it started', { details: { cancelled: true } }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** The ref's value in the repository now ('' when it does not exist). */
export async function readRef(repoDir: string, ref: string): Promise<string> {
  try {
    const { stdout } = await run('git', ['--git-dir', repoDir, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    return stdout.trim();
  } catch {
    return '';
  }
}

/**
 * Refuses a push whose ref update git would refuse: the ref no longer holds the value the client
 * expects (another push landed first). Worded like git's own non-fast-forward refusal, with the
 * commit that landed so the user knows what to integrate. A force push is checked the same way:
 * it replaces what the client saw, never something pushed since.
 */
export async function checkExpectedRef(
  repoDir: string,
  update: { oldRev: string; ref: string; branch: string },
  appName: string,
): Promise<SlipwayError | undefined> {
  const current = await readRef(repoDir, update.ref);
  const expected = ZERO.test(update.oldRev) ? '' : update.oldRev;
  if (current === expected) return undefined;
  const landed = current ? `${short(current)} was pushed to ${update.branch}` : `${update.branch} was deleted`;
  return new SlipwayError(
    'CONFLICT',
    `[rejected] ${update.branch} -> ${update.branch} (fetch first): ${landed} while this push waited`,
    {
      hint: `the remote contains work that you do not have locally: integrate it first (git pull --rebase slipway ${update.branch}), then push again; nothing was built or deployed`,
      details: { current, expected, app: appName },
    },
  );
}
