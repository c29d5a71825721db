import { SlipwayError } from '../../common/errors';

/**
 * Build settings that are not in common/config.ts (yet): how long a push may wait in the queue
 * before it is refused. Read by the composition root once, from the same environment.
 *   SLIPWAY_BUILD_QUEUE_WAIT_S   default: the build time limit (a waiting push outlives at most one build)
 */
export function buildQueueWaitMs(env: NodeJS.ProcessEnv, buildTimeoutMs: number): number {
  const raw = env.SLIPWAY_BUILD_QUEUE_WAIT_S;
  if (raw === undefined || raw === '') return buildTimeoutMs;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_BUILD_QUEUE_WAIT_S=${JSON.stringify(raw)} must be a positive whole number of seconds`, {
      hint: `unset it for the default (${Math.round(buildTimeoutMs / 1000)}, the build time limit)`,
    });
  }
  return n * 1000;
}
