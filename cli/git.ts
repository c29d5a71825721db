import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Output of a git command in cwd, or undefined when it fails (not a repo, no such key). */
async function git(args: string[], cwd: string): Promise<string | undefined> {
  try {
    return (await run('git', args, { cwd })).stdout.trim();
  } catch {
    return undefined;
  }
}

/** The app named by a URL ending in /APP.git (the `slipway` remote). */
export function appFromRemoteUrl(url: string): string | undefined {
  const m = /\/([a-z][a-z0-9-]{1,28}[a-z0-9])\.git\/?$/.exec(url.trim());
  return m?.[1];
}

/** The app of the git remote named `slipway` in the current repository, if any. */
export async function appFromGitRemote(cwd = process.cwd()): Promise<string | undefined> {
  const url = await git(['config', '--get', 'remote.slipway.url'], cwd);
  return url ? appFromRemoteUrl(url) : undefined;
}

export async function isGitRepo(cwd = process.cwd()): Promise<boolean> {
  return (await git(['rev-parse', '--git-dir'], cwd)) !== undefined;
}

/**
 * Adds (or repoints) the `slipway` remote, and makes git ask `slipway git-credential` for the
 * password of that server, so the token never lands in .git/config (only the helper command does).
 */
export async function addSlipwayRemote(opts: {
  cwd?: string;
  apiUrl: string;
  app: string;
  helper: string;
}): Promise<string> {
  const cwd = opts.cwd ?? process.cwd();
  const url = `${opts.apiUrl.replace(/\/+$/, '')}/${opts.app}.git`;
  const existing = await git(['config', '--get', 'remote.slipway.url'], cwd);
  await run('git', existing === undefined ? ['remote', 'add', 'slipway', url] : ['remote', 'set-url', 'slipway', url], {
    cwd,
  });
  const origin = new URL(opts.apiUrl).origin;
  // An empty helper first resets helpers from global config (e.g. a cache that holds an old token).
  await run('git', ['config', '--replace-all', `credential.${origin}.helper`, ''], { cwd });
  await run('git', ['config', '--add', `credential.${origin}.helper`, opts.helper], { cwd });
  return url;
}

/** The branch checked out in cwd (also before the first commit), or undefined (detached, no repo). */
export async function currentBranch(cwd = process.cwd()): Promise<string | undefined> {
  return (await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], cwd)) || undefined;
}

/**
 * The push that deploys the checked-out branch: `git push slipway main` when it is a deploy
 * branch, else `git push slipway feature:main` (to the first deploy branch).
 */
export function pushCommand(branch: string | undefined, deploys: string[]): string {
  const b = branch ?? 'HEAD';
  return deploys.includes(b) ? `git push slipway ${b}` : `git push slipway ${b}:${deploys[0] ?? 'main'}`;
}

/**
 * Clones an app's repository into dir with the remote named `slipway` and the credential helper
 * configured (the token is never written into .git/config).
 */
export async function cloneApp(opts: {
  apiUrl: string;
  app: string;
  helper: string;
  dir: string;
}): Promise<{ url: string; stderr: string }> {
  const url = `${opts.apiUrl.replace(/\/+$/, '')}/${opts.app}.git`;
  const origin = new URL(opts.apiUrl).origin;
  const r = await run(
    'git',
    [
      '-c',
      `credential.${origin}.helper=`,
      '-c',
      `credential.${origin}.helper=${opts.helper}`,
      'clone',
      '--origin',
      'slipway',
      url,
      opts.dir,
    ],
    {
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
    },
  );
  await addSlipwayRemote({ cwd: opts.dir, apiUrl: opts.apiUrl, app: opts.app, helper: opts.helper });
  return { url, stderr: r.stderr };
}

export async function removeSlipwayRemote(cwd = process.cwd()): Promise<boolean> {
  return (await git(['remote', 'remove', 'slipway'], cwd)) !== undefined;
}

/** Shell-quotes our own file paths for git's `!command` helper syntax (never user input). */
export function helperCommand(nodePath: string, cliPath: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `!${q(nodePath)} ${q(cliPath)} git-credential`;
}
