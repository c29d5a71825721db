/**
 * The one polling helper of the tests: calls `fn` until it returns a value other than undefined,
 * null or false, and returns that value. A call that throws counts as "not yet" (a server that is
 * still starting); the last error is in the timeout message. `context` adds what helps to see
 * why (the push's output so far, a server log).
 */
export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Pause between calls (default 100 ms). */
  intervalMs?: number;
  context?: () => string;
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last ? ` (last error: ${(last as Error).message ?? String(last)})` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${why}${opts.context ? `:\n${opts.context()}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
