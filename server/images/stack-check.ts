import { SlipwayError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import type { SlipwayConfig } from '../../common/config';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { readImage } from '../../buildpacks/lifecycle/analyze';
import {
  availableUpdates,
  compareVersions,
  readIndexes,
  stackSources,
  type AvailableUpdate,
} from '../../stacks/apt-index';
import { stackInfo } from '../../stacks/info';
import type { PackageReader } from './packages';

const log = createLogger('slipway-server');

/**
 * The stack update check (issue 18): do the packages recorded in a stack's current images (build
 * and run, /.slipway-packages) have newer versions on the mirror the stack recipe installs from
 * (SUITE, SUITE-updates, SUITE-security; SLIPWAY_DEBIAN_MIRROR / SLIPWAY_DEBIAN_SECURITY_MIRROR)?
 * Read from the mirror's Packages indexes on the host (stacks/apt-index.ts): no container, no
 * root, bounded by a timeout per index. Only when it finds updates is a rebuild worth its minutes.
 */
export interface StackCheckResult {
  stack: string;
  /** Packages compared (the build and run images' lists together). */
  checked: number;
  updates: AvailableUpdate[];
  security: number;
  sources: string[];
  ms: number;
  /** "bookworm: 3 packages have updates (1 security)" / "bookworm: up to date (212 packages checked)". */
  message: string;
}

export function checkMessage(stack: string, updates: AvailableUpdate[], checked: number): string {
  const security = updates.filter((u) => u.security).length;
  if (updates.length === 0) return `${stack}: up to date (${checked} packages checked)`;
  return `${stack}: ${updates.length} package${updates.length === 1 ? ' has' : 's have'} updates (${security} security)`;
}

export async function checkStack(
  deps: {
    store: ImageStore;
    packages: PackageReader;
    config: Pick<SlipwayConfig, 'debianMirror' | 'debianSecurityMirror'>;
    timeoutMs?: number;
  },
  stack: string,
): Promise<StackCheckResult> {
  const started = Date.now();
  const { suite } = stackInfo(stack);
  // name → the lowest version the two images record: an update of either image counts.
  const recorded = new Map<string, string>();
  let images = 0;
  for (const kind of ['run', 'build']) {
    const img = await readImage(deps.store, `stacks/${stack}-${kind}:latest`);
    if (!img) continue;
    images++;
    const list = await deps.packages.packagesOf(img.manifest.layers);
    for (const [name, v] of list ?? [])
      if (!recorded.has(name) || compareVersions(recorded.get(name)!, v) > 0) recorded.set(name, v);
  }
  if (images === 0)
    throw new SlipwayError('NOT_FOUND', `the ${stack} stack is not built on this server`, {
      hint: `it is built on first use; or build it now: slipway stacks:update`,
    });
  if (recorded.size === 0)
    throw new SlipwayError('NOT_FOUND', `the ${stack} stack images record no package list`, {
      hint: 'rebuild them once (slipway stacks:update): stack images older than package lists cannot be checked',
    });
  const sources = stackSources(suite, deps.config.debianMirror, deps.config.debianSecurityMirror);
  const ix = await readIndexes(sources, new Set(recorded.keys()), deps.timeoutMs);
  const updates = availableUpdates(recorded, ix);
  return {
    stack,
    checked: recorded.size,
    updates,
    security: updates.filter((u) => u.security).length,
    sources: sources.map((s) => `${s.uri} ${s.suite}`),
    ms: Date.now() - started,
    message: checkMessage(stack, updates, recorded.size),
  };
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * SLIPWAY_STACK_UPDATE_CHECK=daily: the check (then rebuild, then rebase with auto-rebase) runs
 * SLIPWAY_STACK_UPDATE_CHECK_DELAY_S after start, not at boot (a restart loop must not hammer
 * the mirror, and a fresh server has other work first), then every 24 h. A run that finds a
 * stack update or check already running (stacks:update, stacks:check) is skipped until the next day.
 */
export function createStackUpdateSchedule(deps: {
  config: Pick<SlipwayConfig, 'stackUpdateCheck' | 'stackUpdateCheckDelayMs' | 'stackAutoRebase'>;
  run: (opts: { update: boolean; rebase: boolean }) => Promise<unknown>;
}) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  const schedule = (ms: number) => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => void tick(), ms);
    timer.unref();
  };
  const tick = async () => {
    log.info('stack update check: starting the daily check');
    try {
      await deps.run({ update: true, rebase: deps.config.stackAutoRebase });
      log.info('stack update check: done; the next one in 24 h');
    } catch (err) {
      const e = err as SlipwayError;
      if (e.code === 'CONFLICT') log.info(`stack update check: skipped today: ${e.message}`);
      else log.error(`stack update check failed: ${e.message}`);
    } finally {
      schedule(DAY_MS);
    }
  };
  return {
    enabled: deps.config.stackUpdateCheck === 'daily',
    start() {
      if (deps.config.stackUpdateCheck !== 'daily') return;
      stopped = false;
      log.info(
        `stack update check: daily, first in ${Math.round(deps.config.stackUpdateCheckDelayMs / 1000)} s` +
          (deps.config.stackAutoRebase ? ' (then auto-rebase)' : ''),
      );
      schedule(deps.config.stackUpdateCheckDelayMs);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
