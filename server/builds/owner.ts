import type { SlipwayConfig } from '../../common/config';
import { limitMessage, limitsOf, ownerOfApp } from '../auth/limits';
import type { State } from '../state';
import type { AcquireInput } from './queue';

/** The app owner's build slots for the queue: builds of one user's apps beyond the limit wait. */
export function buildOwner(
  state: State,
  config: Pick<SlipwayConfig, 'limits'>,
  app: { name: string; ownerId: number },
): NonNullable<AcquireInput['owner']> {
  const owner = ownerOfApp(state, app.ownerId);
  const limit = limitsOf(state, config, owner.id).builds;
  return {
    key: String(owner.id),
    limit,
    waiting: (running: number) => {
      const m = limitMessage('builds', owner.email, running, limit, ` (owner of ${app.name})`);
      return `waiting for a build slot: ${m.message}; ${m.hint}`;
    },
  };
}
