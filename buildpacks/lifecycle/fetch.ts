import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SlipwayError } from '../../common/errors';
import { formatBytes } from './safe-fs';
import { BUILDPACK_ARCHIVE_LIMITS, extractArchive } from './safe-extract';
import { checkTarget, redactUrl, type CheckedTarget } from './url-guard';

/**
 * Buildpacks by URL: `https://host/repo.git#ref` (git clone, then checkout of ref) or a .tgz /
 * .tar.gz URL (download, extract). Fetched by the server, so every fetch is fenced: the target
 * must be a public address (checked before connecting, then pinned; see url-guard.ts), the
 * download is streamed with a byte cap and a time cap, archives go through the safe extractor
 * (no links, devices or escaping paths, size and entry caps), and git runs with a scrubbed
 * environment (empty HOME, no system or global config, no credential helpers, no redirects).
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

/** GET with the connection pinned to the checked address; redirects are checked again. */
function get(target: CheckedTarget, signal: AbortSignal): Promise<http.IncomingMessage> {
  const mod = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(
      target.url,
      {
        signal,
        headers: { 'user-agent': 'slipway-buildpack-fetch' },
        lookup: ((_host: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
          o?.all
            ? cb(null, [{ address: target.address, family: target.family }])
            : cb(null, target.address, target.family)) as unknown as typeof import('node:dns').lookup,
      },
      resolve,
    );
    req.on('error', reject);
  });
}

async function downloadArchive(first: CheckedTarget, dir: string, allow: string[]): Promise<void> {
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new Error(`no complete answer within ${FETCH_LIMITS.timeoutMs / 1000} s`)),
    FETCH_LIMITS.timeoutMs,
  );
  try {
    let target = first;
    let res = await get(target, ctl.signal);
    for (
      let hops = 0;
      res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location;
      hops++
    ) {
      res.resume();
      if (hops >= FETCH_LIMITS.maxRedirects) throw new Error('too many redirects');
      const next = new URL(res.headers.location, target.url).toString();
      target = await checkTarget(next, allow);
      res = await get(target, ctl.signal);
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw new Error(`HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
    }
    const declared = Number(res.headers['content-length']);
    const tooBig = () =>
      new SlipwayError(
        'BUILD_FAILED',
        `the buildpack archive was refused: it is larger than ${formatBytes(FETCH_LIMITS.maxDownloadBytes)}`,
        {
          hint: `buildpack archives may be at most ${formatBytes(FETCH_LIMITS.maxDownloadBytes)}`,
          details: { phase: 'detect' },
        },
      );
    if (declared > FETCH_LIMITS.maxDownloadBytes) {
      res.destroy();
      throw tooBig();
    }
    let got = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        got += chunk.length;
        if (got > FETCH_LIMITS.maxDownloadBytes) {
          res.destroy();
          return cb(tooBig());
        }
        cb(null, chunk);
      },
    });
    // Downloaded first (capped), then checked whole without writing anything (names, types, size
    // and entry caps), and only then extracted: a refused archive never reaches the disk as files.
    const file = `${dir}.download`;
    try {
      await pipeline(res, cap, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }), { signal: ctl.signal });
      const limits = { ...BUILDPACK_ARCHIVE_LIMITS, gzip: true, label: 'the buildpack archive' };
      await extractArchive(fs.createReadStream(file), dir, { ...limits, dryRun: true });
      await extractArchive(fs.createReadStream(file), dir, limits);
    } finally {
      fs.rmSync(file, { force: true });
    }
  } catch (err) {
    if (ctl.signal.aborted && !(err instanceof SlipwayError)) throw new Error((ctl.signal.reason as Error).message);
    throw err;
  } finally {
    clearTimeout(timer);
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
    LC_ALL: 'C',
  };
}

function runGit(args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { env, timeout, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 }, (err, _out, stderr) => {
      if (!err) return resolve();
      const msg = String(stderr)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('hint:'))
        .pop();
      reject(
        new Error(
          (err as { killed?: boolean }).killed
            ? `git took longer than ${Math.round(timeout / 1000)} s`
            : (msg ?? err.message).slice(0, 300),
        ),
      );
    });
  });
}

async function gitClone(target: CheckedTarget, dir: string, gitRef?: string): Promise<void> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-git-home-'));
  try {
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
      [...cfg, 'clone', '--quiet', '--no-recurse-submodules', '--', target.url.toString(), dir],
      env,
      FETCH_LIMITS.timeoutMs,
    );
    if (gitRef)
      await runGit(
        [...cfg, '-C', dir, 'checkout', '--quiet', gitRef, '--'],
        env,
        Math.max(10_000, FETCH_LIMITS.timeoutMs - (Date.now() - started)),
      );
    fs.rmSync(path.join(dir, '.git'), { recursive: true, force: true });
    const size = treeSize(dir);
    if (size.bytes > BUILDPACK_ARCHIVE_LIMITS.maxBytes || size.files > BUILDPACK_ARCHIVE_LIMITS.maxFiles) {
      throw new SlipwayError(
        'BUILD_FAILED',
        `the buildpack repository was refused: it holds more than ${formatBytes(BUILDPACK_ARCHIVE_LIMITS.maxBytes)} or ${BUILDPACK_ARCHIVE_LIMITS.maxFiles} files`,
        {
          details: { phase: 'detect' },
        },
      );
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
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
