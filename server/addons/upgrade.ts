import type { UserRow } from '../state/repos/users';
import type { AddonRow } from '../state/repos/addons';
import { assertPlan } from './plans';
import type { AddonService } from './service';
import type { Backups } from './backups';

/**
 * `addons:upgrade NAME [--plan P]` (docs/addons.md "Upgrades"): a verified backup of the service,
 * a new service on the current stack's major version (and the chosen plan), the backup restored
 * into it, then every attached app released with the new URL under the same name. The old
 * service is kept, detached, until its owner destroys it. Writes made between the backup and the
 * swap are not carried over (maintenance mode first).
 */
export async function upgradeAddon(
  deps: { service: AddonService; backups: Backups },
  old: AddonRow,
  opts: { plan?: unknown },
  user: UserRow,
): Promise<{
  from: string;
  to: string;
  version: string;
  plan: string;
  backup: string;
  releases: Record<string, number | null>;
}> {
  const plan = opts.plan === undefined ? old.plan : assertPlan(opts.plan).name;
  const backup = await deps.backups.capture(old);
  const fresh = await deps.service.provision({ kind: old.kind, plan, ownerId: old.ownerId });
  try {
    await deps.backups.restore(fresh, backup);
  } catch (err) {
    await deps.service.destroy(fresh, true, user).catch(() => {});
    throw err;
  }
  const releases = await deps.service.swap(old, fresh, user);
  return { from: old.name, to: fresh.name, version: fresh.version, plan, backup: `b${backup.id}`, releases };
}
