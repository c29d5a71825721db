import type { State } from '../state';
import type { ReleaseService, ReleaseUser } from '../releases';

/**
 * The one place add-ons make releases: set/unset an app's config vars, then the config-change
 * release (same image, new config; zero-downtime rollout). It is today's
 * releases.configChanged; when releases become releases.create → rollout, only this file changes.
 */
export type ConfigRelease = (
  appName: string,
  change: { set?: Record<string, string>; unset?: string[] },
  user: ReleaseUser | null,
  description: string,
) => Promise<{ version: number } | undefined>;

export function createConfigRelease(deps: {
  state: State;
  releases?: Pick<ReleaseService, 'configChanged'>;
}): ConfigRelease {
  return async (appName, change, user, description) => {
    const app = deps.state.apps.require(appName);
    deps.state.configVars.update(app.id, change.set ?? {}, change.unset ?? []);
    if (!deps.releases) return undefined;
    const rel = await deps.releases.configChanged(app.name, user, description);
    return rel ? { version: rel.version } : undefined;
  };
}
