import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';
import { formatBytes } from './safe-fs';
import { BUILDPACK_ARCHIVE_LIMITS, extractArchive } from './safe-extract';
import {
  adoptTree,
  fetchIdentity,
  makeStaging,
  moveTree,
  runAs,
  runFetchWorker,
  type FetchIdentity,
} from './fetch-sandbox';
import { checkTarget, redactUrl, type CheckedTarget } from './url-guard';

/**
 * Buildpacks by URL: `https://host/repo.git#ref` (git clone, then checkout of ref) or a .tgz /
 * .tar.gz URL (download, extract). Fetched by the server, so every fetch is fenced: the target
 * must be a public address (checked before connecting, then pinned; see url-guard.ts), the
 * download is streamed with a byte cap and a time cap, archives go through the safe extractor
 * (no links, devices or escaping paths, size and entry caps), and git runs with a scrubbed
 * environment (empty HOME, no system or global config, no credential helpers, no redirects).
 * The network work runs as an unprivileged identity, never as root (fetch-sandbox.ts).
 * Results are cached by URL and ref under the fetch cache, so the second build does not fetch.
 */
export const FETCH_LIMITS = { maxDownloadBytes: 64 * 1024 * 1024, timeoutMs: 120_000, maxRedirects: 5 };

export function isUrl(ref: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ref) || /^git@/.test(ref);
}

function fetchError(ref: string, reason: string): SlipwayError {
  return new SlipwayError(
    'BUILD_FAILED',
    `could not fetch buildpack ${redactUrl(ref).slice(0, 200)}: ${redactUrl(reason)}`,
    {
      hint: 'check the URL (git URLs take #ref for a branch, tag or commit; archives must end in .tgz or .tar.gz)',
      details: { phase: 'detect' },
    },
  );
}

export async function fetchBuildpack(ref: string, cacheDir: string, opts: { allow?: string[] } = {}): Promise<string> {
  const [url, gitRef] = ref.split('#', 2);
  // Only http(s): never file:// (other apps' repositories live on this host), ssh (the server's
  // keys) or git:// (cannot be pinned to a checked address).
  if (!/^https?:\/\/[^\s]+$/i.test(url)) {
    throw new SlipwayError(
      'BUILD_FAILED',
      `buildpack URL ${JSON.stringify(redactUrl(url).slice(0, 120))} is not allowed`,
      {
        hint: 'use an https:// (or http://) URL: a git repository with an optional #ref, or a .tgz archive',
        details: { phase: 'detect' },
      },
    );
  }
  if (gitRef !== undefined && !/^[A-Za-z0-9._/-]{1,200}$/.test(gitRef)) {
    throw new SlipwayError(
      'BUILD_FAILED',
      `buildpack ref ${JSON.stringify(gitRef.slice(0, 40))} is not a branch, tag or commit`,
      { details: { phase: 'detect' } },
    );
  }
  const final = path.join(cacheDir, createHash('sha256').update(ref).digest('hex').slice(0, 24));
  if (fs.existsSync(path.join(final, '.slipway-fetched'))) return final;
  // Checked before any connection: a refused target is never contacted.
  const target = await checkTarget(url, opts.allow);
  // Fetch into a private temp dir, then rename: concurrent builds never see half a buildpack.
  fs.mkdirSync(cacheDir, { recursive: true });
  const dir = fs.mkdtempSync(`${final}.tmp-`);
  try {
    if (/\.(tgz|tar\.gz)$/.test(target.url.pathname)) {
      await downloadArchive(target, dir, opts.allow ?? []);
      unwrapSingleDir(dir);
    } else {
      await gitClone(target, dir, gitRef);
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    if (err instanceof SlipwayError) {
      // Refusals by the guard or the extractor already say what was wrong.
      if (/was refused/.test(err.message)) throw err;
      throw fetchError(ref, err.message);
    }
    throw fetchError(ref, (err as Error).message.split('\n')[0]);
  }
  fs.writeFileSync(path.join(dir, '.slipway-fetched'), ref);
  try {
    fs.renameSync(dir, final);
  } catch {
    // Another build fetched it first: use theirs.
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return final;
}

/** Archives often wrap everything in one top-level directory: lift it (lstat: never a link). */
function unwrapSingleDir(dir: string): void {
  const entries = fs.readdirSync(dir);
  if (entries.length !== 1 || entries[0] === 'bin') return;
  const top = path.join(dir, entries[0]);
  if (!fs.lstatSync(top).isDirectory()) return;
  const tmp = `${dir}/.slipway-unwrap-${process.pid}`;
  fs.renameSync(top, tmp);
  for (const e of fs.readdirSync(tmp)) fs.renameSync(path.join(tmp, e), path.join(dir, e));
  fs.rmdirSync(tmp);
}

async function downloadArchive(first: CheckedTarget, dir: string, allow: string[]): Promise<void> {
  const deadline = Date.now() + FETCH_LIMITS.timeoutMs;
  const id = fetchIdentity();
  const staging = makeStaging(id);
  const tooBig = () =>
    new SlipwayError(
      'BUILD_FAILED',
      `the buildpack archive was refused: it is larger than ${formatBytes(FETCH_LIMITS.maxDownloadBytes)}`,
      {
        hint: `buildpack archives may be at most ${formatBytes(FETCH_LIMITS.maxDownloadBytes)}`,
        details: { phase: 'detect' },
      },
    );
  try {
    // Each hop is one request in the unprivileged worker; every redirect target is checked here
    // again before the next worker connects to it.
    let target = first;
    const file = path.join(staging, 'download');
    for (let hops = 0; ; hops++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete answer within ${FETCH_LIMITS.timeoutMs / 1000} s`);
      const r = await runFetchWorker(id, {
        url: target.url.toString(),
        address: target.address,
        family: target.family,
        maxBytes: FETCH_LIMITS.maxDownloadBytes,
        timeoutMs: left,
        out: file,
      });
      if (r.kind === 'too-big') throw tooBig();
      if (r.kind === 'error') throw new Error(r.message);
      if (r.kind === 'ok') break;
      if (hops >= FETCH_LIMITS.maxRedirects) throw new Error('too many redirects');
      target = await checkTarget(new URL(r.location, target.url).toString(), allow);
    }
    adoptTree(staging, id);
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.size > FETCH_LIMITS.maxDownloadBytes) throw tooBig();
    // Downloaded first (capped), then checked whole without writing anything (names, types, size
    // and entry caps), and only then extracted: a refused archive never reaches the disk as files.
    const limits = { ...BUILDPACK_ARCHIVE_LIMITS, gzip: true, label: 'the buildpack archive' };
    await extractArchive(fs.createReadStream(file), dir, { ...limits, dryRun: true });
    await extractArchive(fs.createReadStream(file), dir, limits);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** git with nothing of the server's: empty HOME, no system/global config, no prompts or helpers. */
function gitEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_TEMPLATE_DIR: home,
    GIT_PROTOCOL_FROM_USER: '0',
    // The fetch identity has no passwd entry: git's reflog wants a name it cannot look up.
    GIT_COMMITTER_NAME: 'slipway-fetch',
    GIT_COMMITTER_EMAIL: 'slipway-fetch@localhost',
    GIT_AUTHOR_NAME: 'slipway-fetch',
    GIT_AUTHOR_EMAIL: 'slipway-fetch@localhost',
    LC_ALL: 'C',
  };
}

async function runGit(
  id: FetchIdentity | null,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeout: number,
): Promise<void> {
  const r = await runAs(id, 'git', args, { env, cwd, timeoutMs: timeout });
  if (!r.error) return;
  const msg = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('hint:'))
    .pop();
  throw new Error(
    r.error.killed ? `git took longer than ${Math.round(timeout / 1000)} s` : (msg ?? r.error.message).slice(0, 300),
  );
}

async function gitClone(target: CheckedTarget, dir: string, gitRef?: string): Promise<void> {
  // git runs as the unprivileged fetch identity in its own staging directory (fetch-sandbox.ts).
  const id = fetchIdentity();
  const staging = makeStaging(id);
  const home = path.join(staging, 'home');
  const clone = path.join(staging, 'clone');
  try {
    fs.mkdirSync(home, { mode: 0o700 });
    if (id) fs.chownSync(home, id.uid, id.gid);
    const port = target.url.port || (target.url.protocol === 'https:' ? '443' : '80');
    const addr = target.family === 6 ? `[${target.address}]` : target.address;
    const cfg = [
      '-c',
      'credential.helper=',
      '-c',
      'protocol.allow=never',
      '-c',
      `protocol.${target.url.protocol.slice(0, -1)}.allow=always`,
      '-c',
      'http.followRedirects=false',
      '-c',
      `http.curloptResolve=${target.url.hostname.replace(/^\[|\]$/g, '')}:${port}:${addr}`,
      '-c',
      'core.hooksPath=/dev/null',
    ];
    const env = gitEnv(home);
    const started = Date.now();
    // `--` ends options: a URL can never be read as a git option.
    await runGit(
      id,
      [...cfg, 'clone', '--quiet', '--no-recurse-submodules', '--', target.url.toString(), clone],
      env,
      staging,
      FETCH_LIMITS.timeoutMs,
    );
    if (gitRef)
      await runGit(
        id,
        [...cfg, '-C', clone, 'checkout', '--quiet', gitRef, '--'],
        env,
        staging,
        Math.max(10_000, FETCH_LIMITS.timeoutMs - (Date.now() - started)),
      );
    adoptTree(clone, id);
    fs.rmSync(path.join(clone, '.git'), { recursive: true, force: true });
    const size = treeSize(clone);
    if (size.bytes > BUILDPACK_ARCHIVE_LIMITS.maxBytes || size.files > BUILDPACK_ARCHIVE_LIMITS.maxFiles) {
      throw new SlipwayError(
        'BUILD_FAILED',
        `the buildpack repository was refused: it holds more than ${formatBytes(BUILDPACK_ARCHIVE_LIMITS.maxBytes)} or ${BUILDPACK_ARCHIVE_LIMITS.maxFiles} files`,
        {
          details: { phase: 'detect' },
        },
      );
    }
    // `dir` is the fetch's private temp dir (empty): the clone takes its place.
    fs.rmdirSync(dir);
    moveTree(clone, dir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function treeSize(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      files++;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes += fs.lstatSync(p).size;
    }
  };
  walk(dir);
  return { bytes, files };
}
