import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SlipwayError } from '../../common/errors';

const run = promisify(execFile);

/**
 * Buildpacks by URL: `https://host/repo.git#ref` (git clone, then checkout of ref) or a .tgz /
 * .tar.gz URL (download, extract). Fetched on the host (no buildpack code runs here), cached by
 * URL and ref under the fetch cache, so the second build does not touch the network.
 */
export function isUrl(ref: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ref) || /^git@/.test(ref);
}

/** Only public transports: never file:// (other apps' repositories live on this host) or ssh (the server's keys). */
function assertAllowed(url: string): void {
  if (!/^(https?|git):\/\/[^\s]+$/i.test(url)) {
    throw new SlipwayError('BUILD_FAILED', `buildpack URL ${JSON.stringify(url)} is not allowed`, {
      hint: 'use an https:// (or http://, git://) URL: a git repository with an optional #ref, or a .tgz archive',
      details: { phase: 'detect' },
    });
  }
}

export async function fetchBuildpack(ref: string, cacheDir: string): Promise<string> {
  const [url, gitRef] = ref.split('#', 2);
  assertAllowed(url);
  if (gitRef !== undefined && !/^[A-Za-z0-9._\/-]{1,200}$/.test(gitRef)) {
    throw new SlipwayError('BUILD_FAILED', `buildpack ref ${JSON.stringify(gitRef)} is not a branch, tag or commit`, { details: { phase: 'detect' } });
  }
  const final = path.join(cacheDir, createHash('sha256').update(ref).digest('hex').slice(0, 24));
  if (fs.existsSync(path.join(final, '.slipway-fetched'))) return final;
  // Fetch into a private temp dir, then rename: concurrent builds never see half a buildpack.
  fs.mkdirSync(cacheDir, { recursive: true });
  const dir = fs.mkdtempSync(`${final}.tmp-`);
  try {
    if (/\.(tgz|tar\.gz)$/.test(url)) {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const file = `${dir}.tgz`;
      fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      await run('tar', ['-xzf', file, '-C', dir, '--no-same-owner']);
      fs.rmSync(file, { force: true });
      // Archives often wrap everything in one top-level directory.
      const entries = fs.readdirSync(dir);
      if (entries.length === 1 && fs.statSync(path.join(dir, entries[0])).isDirectory() && !fs.existsSync(path.join(dir, 'bin'))) {
        for (const e of fs.readdirSync(path.join(dir, entries[0]))) fs.renameSync(path.join(dir, entries[0], e), path.join(dir, e));
        fs.rmdirSync(path.join(dir, entries[0]));
      }
    } else {
      // `--` ends options: a URL can never be read as a git option (ext:: and friends are refused too).
      await run('git', ['-c', 'protocol.ext.allow=never', '-c', 'protocol.file.allow=never', 'clone', '--quiet', '--', url, dir], { timeout: 120_000 });
      if (gitRef) await run('git', ['-C', dir, 'checkout', '--quiet', gitRef, '--'], { timeout: 60_000 });
      fs.rmSync(path.join(dir, '.git'), { recursive: true, force: true });
    }
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new SlipwayError('BUILD_FAILED', `could not fetch buildpack ${ref}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'check the URL (git URLs take #ref for a branch, tag or commit; archives must end in .tgz or .tar.gz)',
      details: { phase: 'detect' },
    });
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
