/**
 * Crash restart back-off: the first restart comes after `baseMs` (default 1 s, so within the 2 s
 * promise), each further one doubles, capped at `capMs` (5 minutes). A new release, or a dyno that
 * ran healthy for `resetAfterMs` (10 minutes) before crashing, starts the count again.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 5 * 60_000, resetAfterMs: 10 * 60_000 };

/** Delay before restart number `attempt` (0 = the first restart after a crash). */
export function restartDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exp = Math.min(attempt, 30);
  return Math.min(policy.baseMs * 2 ** exp, policy.capMs);
}

/** The attempt number to use for a crash, given how long the dyno had been running. */
export function nextAttempt(
  previousAttempts: number,
  ranForMs: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  return ranForMs >= policy.resetAfterMs ? 0 : previousAttempts;
}
