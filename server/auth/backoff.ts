import { SlipwayError } from '../../common/errors';

/**
 * Back-off on repeated failed authentication, for the API and the git endpoint alike. A failure is
 * a request that sent a credential which was refused (no credential at all is git's normal first
 * request, and costs nothing). Failures are counted per client address and per token prefix (the
 * first 12 characters: a leaked or revoked token retried from many addresses); once either key has
 * `limit` failures within `windowMs`, requests carrying a credential under that key are answered
 * 429 with Retry-After before the credential is even looked at, until the oldest counted failure
 * leaves the window. Memory is bounded: keys are dropped when their failures expire, and at most
 * MAX_KEYS are tracked (the oldest go first).
 */
export interface AuthBackoff {
  /** Throws TOO_MANY_REQUESTS (details.retryAfterS) when this address or token prefix is backed off. */
  check(address: string | undefined, secret: string): void;
  /** Counts a refused credential. */
  fail(address: string | undefined, secret: string): void;
}

const MAX_KEYS = 10_000;
export const TOKEN_PREFIX_CHARS = 12;

export function createAuthBackoff(opts: { limit: number; windowMs: number; now?: () => number }): AuthBackoff {
  const now = opts.now ?? Date.now;
  const failures = new Map<string, number[]>();
  const keys = (address: string | undefined, secret: string) => [
    `addr:${address ?? '?'}`,
    `tok:${secret.slice(0, TOKEN_PREFIX_CHARS)}`,
  ];
  const recent = (key: string, t: number): number[] | undefined => {
    const list = failures.get(key);
    if (!list) return undefined;
    while (list.length > 0 && list[0] <= t - opts.windowMs) list.shift();
    if (list.length === 0) failures.delete(key);
    return list.length > 0 ? list : undefined;
  };
  return {
    check(address, secret) {
      const t = now();
      for (const key of keys(address, secret)) {
        const list = recent(key, t);
        if (list && list.length >= opts.limit) {
          const retryAfterS = Math.max(1, Math.ceil((list[list.length - opts.limit] + opts.windowMs - t) / 1000));
          throw new SlipwayError(
            'TOO_MANY_REQUESTS',
            `too many failed authentications ${key.startsWith('addr:') ? 'from this address' : 'with this token'}; try again in ${retryAfterS} s`,
            {
              hint: 'check the API token you use (`slipway auth:whoami`); an admin can make you a new one',
              details: { retryAfterS },
            },
          );
        }
      }
    },
    fail(address, secret) {
      const t = now();
      for (const key of keys(address, secret)) {
        const list = recent(key, t) ?? [];
        list.push(t);
        // Only the newest `limit` matter for the decision.
        if (list.length > opts.limit) list.splice(0, list.length - opts.limit);
        failures.delete(key);
        failures.set(key, list);
      }
      while (failures.size > MAX_KEYS) failures.delete(failures.keys().next().value as string);
    },
  };
}
