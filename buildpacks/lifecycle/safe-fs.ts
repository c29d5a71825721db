import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../../common/errors';

/**
 * Host-side access to files that buildpacks (running as uid 1000 in the build container) can
 * write. The host runs as root, so a buildpack that plants a symlink such as
 * layers/bp/env.launch/X -> /var/lib/slipway/state/secret.key must never make the host read or
 * write through it. Every such path is resolved and must stay inside the workspace (or cache)
 * root; the final component is opened with O_NOFOLLOW. The build container is frozen (docker
 * pause) whenever the host touches these files, so nothing can swap a path between check and use.
 */
const realRoots = new Map<string, string>();
function realRoot(root: string): string {
  let r = realRoots.get(root);
  if (!r) realRoots.set(root, (r = fs.realpathSync(root)));
  return r;
}

function outside(p: string): SlipwayError {
  return new SlipwayError('BUILD_FAILED', `a buildpack made ${p} point outside the build workspace (symlink)`, {
    hint: 'buildpacks may not link platform files to paths outside /app, /layers and /cache',
    details: { phase: 'build', file: p },
  });
}

export function assertInside(root: string, p: string): void {
  const r = realRoot(root);
  const real = fs.realpathSync(p);
  if (real !== r && !real.startsWith(r + path.sep)) throw outside(p);
}

export function existsIn(root: string, p: string): boolean {
  try {
    fs.lstatSync(p);
  } catch {
    return false;
  }
  assertInside(root, p);
  return true;
}

export function readFileIn(root: string, p: string): string {
  assertInside(root, path.dirname(p));
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw outside(p);
    throw err;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new SlipwayError('BUILD_FAILED', `${p} is not a regular file`, { details: { phase: 'build', file: p } });
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFileIn(root: string, p: string, data: string, opts: { append?: boolean; mode?: number } = {}): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  assertInside(root, path.dirname(p));
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | (opts.append ? fs.constants.O_APPEND : fs.constants.O_TRUNC);
  let fd: number;
  try {
    fd = fs.openSync(p, flags, opts.mode ?? 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw outside(p);
    throw err;
  }
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}
