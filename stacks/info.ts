import * as fs from 'node:fs';
import * as path from 'node:path';
import { SlipwayError } from '../common/errors';

/**
 * What a stack is, read from its recipe directory (stacks/NAME/stack.conf): the Debian suite and
 * version number. Dependency-free so the lifecycle can match buildpack [[targets]] against an
 * app's stack without importing the image builder.
 */
export const STACKS_DIR = path.resolve(__dirname, '..', '..', 'stacks');

/** The stacks this Slipway can build: every stacks/NAME/ with a stack.conf. */
export function knownStacks(): string[] {
  return fs
    .readdirSync(STACKS_DIR)
    .filter((n) => fs.existsSync(path.join(STACKS_DIR, n, 'stack.conf')))
    .sort();
}

export interface StackInfo {
  name: string;
  suite: string;
  /** Debian's version number, what buildpack [[targets.distros]] match against ("12", "13"). */
  distroVersion: string;
}

/** A stack's stack.conf, or NOT_FOUND naming the stacks that exist. */
export function stackInfo(stack: string): StackInfo {
  const file = path.join(STACKS_DIR, stack, 'stack.conf');
  if (!/^[a-z0-9-]{1,40}$/.test(stack) || !fs.existsSync(file)) {
    throw new SlipwayError('NOT_FOUND', `there is no stack "${stack}"`, {
      hint: `the stacks are ${knownStacks().join(', ')} (see slipway stacks)`,
    });
  }
  const conf = fs.readFileSync(file, 'utf8');
  const get = (k: string) => new RegExp(`^${k}=([a-z0-9.]+)$`, 'm').exec(conf)?.[1];
  const suite = get('suite');
  const distroVersion = get('distro_version');
  if (!suite || !distroVersion) throw new SlipwayError('INTERNAL', `${file} needs suite= and distro_version=`);
  return { name: stack, suite, distroVersion };
}
