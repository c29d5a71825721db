/**
 * Per-account limits: what each key bounds, its unit and its platform default. The defaults can be
 * changed by the operator (SLIPWAY_LIMIT_<KEY> in slipway.env, read in common/config.ts) and each
 * user's values by an admin (`slipway limits:set USER key=value`). Limits of an app (dynos,
 * one-offs, push size) are those of the app's owner.
 */
export const LIMIT_KEYS = [
  'apps',
  'dynos',
  'dynos-per-type',
  'one-offs',
  'one-off-seconds',
  'builds',
  'push-mb',
  'addons',
] as const;
export type LimitKey = (typeof LIMIT_KEYS)[number];
export type Limits = Record<LimitKey, number>;

export const LIMIT_INFO: Record<LimitKey, { what: string; unit: string; max: number }> = {
  apps: { what: 'apps a user owns', unit: 'apps', max: 100_000 },
  dynos: { what: 'dynos of one app (all process types)', unit: 'dynos', max: 100_000 },
  'dynos-per-type': { what: 'dynos of one process type of an app', unit: 'dynos', max: 100 },
  'one-offs': {
    what: 'one-off dynos (slipway run, run:detached) running at once across the apps a user owns',
    unit: 'one-offs',
    max: 1000,
  },
  'one-off-seconds': { what: 'run time of a one-off dyno before it is stopped', unit: 'seconds', max: 7 * 24 * 3600 },
  builds: {
    what: "builds of one user's apps running at once (the machine has SLIPWAY_BUILD_CONCURRENCY slots)",
    unit: 'builds',
    max: 1000,
  },
  'push-mb': { what: 'size of one git push (receive.maxInputSize)', unit: 'MiB', max: 100_000 },
  addons: { what: 'add-on services (PostgreSQL, Redis) a user owns', unit: 'services', max: 10_000 },
};

/** Platform defaults when the operator sets nothing (builds: see defaultLimits). */
export function defaultLimits(buildConcurrency: number): Limits {
  return {
    apps: 10,
    dynos: 20,
    'dynos-per-type': 10,
    'one-offs': 3,
    'one-off-seconds': 3600,
    // One user never holds every build slot of the machine (unless the machine has only one).
    builds: Math.max(1, Math.ceil(buildConcurrency / 2)),
    'push-mb': 200,
    addons: 5,
  };
}

export const isLimitKey = (k: string): k is LimitKey => (LIMIT_KEYS as readonly string[]).includes(k);

/** SLIPWAY_LIMIT_DYNOS_PER_TYPE for dynos-per-type. */
export const limitEnvName = (k: LimitKey) => `SLIPWAY_LIMIT_${k.toUpperCase().replace(/-/g, '_')}`;
