import { SlipwayError, isSlipwayError } from '../../common/errors';
import type { State } from '../state';
import type { ReleaseRow } from '../state/repos/releases';
import type { ReleaseUser } from './index';

export interface ConfigChangeDeps {
  state: State;
  releases?: { configChanged(appName: string, user: ReleaseUser | null): Promise<ReleaseRow | undefined> };
}

export interface ConfigChangeResult {
  /** The app's config vars after the change. */
  config: Record<string, string>;
  changed: string[];
  removed: string[];
  release?: ReleaseRow;
}

/**
 * A config change is part of its release (issue 14): the vars are stored, a release with the new
 * config is rolled out, and when that release fails (release phase, health check) the stored vars
 * go back to what they were, so `slipway config`, the serving release and the next push agree.
 * Only the keys this change touched are put back, and only while they still hold this change's
 * values (a later change of the same key is not undone).
 */
export async function applyConfigChange(
  deps: ConfigChangeDeps,
  app: { id: number; name: string },
  set: Record<string, string>,
  unset: string[],
  user: ReleaseUser | null,
  check?: (after: Record<string, string>) => void,
): Promise<ConfigChangeResult> {
  const { state } = deps;
  const before = state.configVars.all(app.id);
  const config = state.configVars.update(app.id, set, unset, check);
  const changed = Object.keys(set).filter((k) => before[k] !== set[k]);
  const removed = unset.filter((k) => k in before);
  if (!deps.releases || (changed.length === 0 && removed.length === 0)) return { config, changed, removed };
  try {
    const release = await deps.releases.configChanged(app.name, user);
    return { config: state.configVars.all(app.id), changed, removed, release };
  } catch (err) {
    revert(state, app.id, before, set, removed);
    const keys = [...changed, ...removed];
    const reason = isSlipwayError(err) ? err.message : (err as Error).message;
    const command = changed.length ? `config:set ${changed.map((k) => `${k}=…`).join(' ')}` : `config:unset ${removed.join(' ')}`;
    throw new SlipwayError('DEPLOY_FAILED', `${reason}\nThe config change was not applied: ${keys.join(', ')} ${keys.length === 1 ? 'keeps its' : 'keep their'} previous value${keys.length === 1 ? '' : 's'}.`, {
      hint: `the previous release keeps serving; fix the cause (slipway logs -a ${app.name}), then run slipway ${command} -a ${app.name} again`,
      details: { notApplied: keys, release: isSlipwayError(err) ? err.details : undefined },
      cause: err,
    });
  }
}

function revert(state: State, appId: number, before: Record<string, string>, set: Record<string, string>, removed: string[]): void {
  state.db
    .transaction(() => {
      const now = state.configVars.all(appId);
      const restore: Record<string, string> = {};
      const drop: string[] = [];
      for (const [k, v] of Object.entries(set)) {
        if (now[k] !== v) continue; // changed again since: not ours to undo
        if (k in before) restore[k] = before[k];
        else drop.push(k);
      }
      for (const k of removed) if (!(k in now)) restore[k] = before[k];
      state.configVars.update(appId, restore, drop);
    })
    .immediate();
}
