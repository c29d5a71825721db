import type { SlipwayConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import { LIMIT_INFO, type LimitKey, type Limits } from '../../common/limits';
import type { State } from '../state';

/**
 * Per-account limits in effect: the platform defaults (SLIPWAY_LIMIT_*) with the user's overrides
 * on top. An app's limits are its owner's. Every refusal says which limit, its value, and the
 * exact command an admin runs to raise it.
 */
export function limitsOf(state: State, config: Pick<SlipwayConfig, 'limits'>, userId: number): Limits {
  return { ...config.limits, ...state.limits.overrides(userId) };
}

export function ownerOfApp(state: State, appOwnerId: number): { id: number; email: string } {
  return { id: appOwnerId, email: state.users.emailOf(appOwnerId) ?? `user #${appOwnerId}` };
}

/** "apps limit reached: user a@b has 5 of 5 apps; an admin can raise it with: slipway limits:set a@b apps=10" */
export function limitMessage(
  key: LimitKey,
  email: string,
  used: number | string | undefined,
  limit: number,
  scope = '',
): { message: string; hint: string } {
  const unit = LIMIT_INFO[key].unit;
  const has =
    used === undefined
      ? `is limited to ${limit} ${unit}`
      : typeof used === 'string'
        ? used
        : `has ${used} of ${limit} ${unit}`;
  const suggested = Math.max(limit * 2, limit + 1);
  return {
    message: `${key} limit reached: user ${email}${scope} ${has}`,
    hint: `an admin can raise it with: slipway limits:set ${email} ${key}=${suggested}`,
  };
}

export function limitError(
  key: LimitKey,
  email: string,
  used: number | string | undefined,
  limit: number,
  scope = '',
): SlipwayError {
  const m = limitMessage(key, email, used, limit, scope);
  return new SlipwayError('LIMIT_REACHED', m.message, {
    hint: m.hint,
    details: { limit: key, value: limit, user: email },
  });
}

/** The one-off limits of an app (its owner's), in the shape the runtime takes. */
export function oneOffLimits(
  state: State,
  config: Pick<SlipwayConfig, 'limits'>,
  app: { name: string; ownerId: number },
) {
  const owner = ownerOfApp(state, app.ownerId);
  const l = limitsOf(state, config, owner.id);
  return {
    concurrent: l['one-offs'],
    // Counted per owner, across all their apps: more apps must not mean more one-offs.
    apps: state.apps.listOwnedBy(owner.id),
    maxSeconds: l['one-off-seconds'],
    refuse: (running: number) => limitError('one-offs', owner.email, running, l['one-offs'], ` (owner of ${app.name})`),
    stopped: (seconds: number) => {
      const m = limitMessage('one-off-seconds', owner.email, undefined, seconds, ` (owner of ${app.name})`);
      return `Stopped: ${m.message}; ${m.hint}`;
    },
  };
}

/** Refuses a formation whose quantities exceed the owner's dynos or dynos-per-type limit. */
export function checkFormation(
  state: State,
  config: Pick<SlipwayConfig, 'limits'>,
  app: { id: number; name: string; ownerId: number },
  quantities: Record<string, number>,
): void {
  const owner = ownerOfApp(state, app.ownerId);
  const l = limitsOf(state, config, owner.id);
  const next: Record<string, number> = {};
  for (const f of state.formation.list(app.id)) next[f.type] = f.quantity;
  Object.assign(next, quantities);
  for (const [type, q] of Object.entries(quantities)) {
    const max = l['dynos-per-type'];
    if (q > max)
      throw limitError(
        'dynos-per-type',
        owner.email,
        `may run ${max} dynos per process type, and ${type}@${q} asks for ${q}`,
        max,
        ` (owner of ${app.name})`,
      );
  }
  const total = Object.values(next).reduce((a, b) => a + b, 0);
  const grew = Object.entries(quantities).some(
    ([t, q]) => q > (state.formation.list(app.id).find((f) => f.type === t)?.quantity ?? 0),
  );
  if (grew && total > l.dynos)
    throw limitError(
      'dynos',
      owner.email,
      `may run ${l.dynos} dynos per app, and this formation asks for ${total}`,
      l.dynos,
      ` (owner of ${app.name})`,
    );
}
