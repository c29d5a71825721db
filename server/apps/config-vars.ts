import { SlipwayError, isSlipwayError } from '../../common/errors';
import { assertConfigKey } from '../../common/names';
import type { ReleaseService, ReleaseUser } from '../releases';
import type { State } from '../state';
import type { AppRow } from '../state/repos/apps';

/**
 * Config vars: validation, the change itself (one transaction, with the per-app cap), what
 * changed, and the config release (same image, new config) when the app has a build. Values never
 * enter events or log lines (those name the keys only).
 *
 * Values are capped so one request cannot bloat every release snapshot, every dyno's environment
 * and the build's platform/env; the total per app is capped too (keys + values), well under what
 * execve accepts for a container's environment.
 */
export const MAX_VALUE_BYTES = 32 * 1024;
export const MAX_APP_CONFIG_BYTES = 256 * 1024;

function checkTotal(after: Record<string, string>): void {
  let total = 0;
  for (const [k, v] of Object.entries(after)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (total > MAX_APP_CONFIG_BYTES) {
    throw new SlipwayError(
      'INVALID_INPUT',
      `the app's config vars would take ${Math.ceil(total / 1024)} KiB, more than the limit of 256 KiB per app`,
      {
        hint: 'unset vars the app no longer needs, or keep large data (certificates, files) outside config vars',
      },
    );
  }
}

/** `{ KEY: "value", OLD: null }` → sets and unsets; throws on anything a process environment cannot hold. */
export function parseConfigChanges(b: unknown): { set: Record<string, string>; unset: string[] } {
  if (typeof b !== 'object' || b === null || Array.isArray(b) || Object.keys(b).length === 0) {
    throw new SlipwayError('INVALID_INPUT', 'send a JSON object of config vars, like {"KEY": "value", "OLD": null}', {
      hint: 'null unsets a var; values are strings',
    });
  }
  const set: Record<string, string> = {};
  const unset: string[] = [];
  for (const [k, v] of Object.entries(b)) {
    assertConfigKey(k);
    if (v === null) unset.push(k);
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      const s = String(v);
      // A NUL cannot be carried by an environment variable: execve would cut the value there.
      if (s.includes('\0')) {
        throw new SlipwayError('INVALID_INPUT', `the value of ${k} contains a NUL character`, {
          hint: 'environment variables cannot hold NUL bytes; encode binary values (for example base64)',
        });
      }
      if (Buffer.byteLength(s) > MAX_VALUE_BYTES) {
        throw new SlipwayError(
          'INVALID_INPUT',
          `the value of ${k} is larger than 32 KiB (${Math.ceil(Buffer.byteLength(s) / 1024)} KiB)`,
          {
            hint: 'config values are capped at 32 KiB each and 256 KiB per app; keep large data outside config vars',
          },
        );
      }
      set[k] = s;
    } else throw new SlipwayError('INVALID_INPUT', `the value of ${k} must be a string (or null to unset it)`);
  }
  return { set, unset };
}

export interface ConfigUpdate {
  config: Record<string, string>;
  /** Keys whose value changed, keys that were removed. */
  changed: string[];
  removed: string[];
  /** "Set A, B config vars; Unset C config vars", or '' when nothing changed. */
  description: string;
  /** What was asked and what the vars were before: a failed release puts them back. */
  set: Record<string, string>;
  before: Record<string, string>;
}

export function createConfigVarsService(deps: { state: State; releases: Pick<ReleaseService, 'configChanged'> }) {
  return {
    /** Applies the changes (one transaction); what changed, for the caller to record. */
    update(app: AppRow, changes: { set: Record<string, string>; unset: string[] }): ConfigUpdate {
      const before = deps.state.configVars.all(app.id);
      const config = deps.state.configVars.update(app.id, changes.set, changes.unset, checkTotal);
      const changed = Object.keys(changes.set).filter((k) => before[k] !== changes.set[k]);
      const removed = changes.unset.filter((k) => k in before);
      const description = [
        changed.length ? `Set ${changed.join(', ')} config vars` : '',
        removed.length ? `Unset ${removed.join(', ')} config vars` : '',
      ]
        .filter(Boolean)
        .join('; ');
      return { config, changed, removed, description, set: changes.set, before };
    },
    /**
     * The config release (same image, new config); undefined before the app's first build.
     * A config change is part of its release (issue 14): when the release fails (release phase,
     * health check) the stored vars go back to what they were, so `slipway config`, the serving
     * release and the next push agree. The error's details name the keys not applied.
     */
    async release(app: AppRow, user: ReleaseUser, update: ConfigUpdate): Promise<{ version: number } | undefined> {
      try {
        return await deps.releases.configChanged(app.name, user);
      } catch (err) {
        revert(deps.state, app.id, update);
        const keys = [...update.changed, ...update.removed];
        const reason = (err as Error).message;
        const command = update.changed.length
          ? `config:set ${update.changed.map((k) => `${k}=…`).join(' ')}`
          : `config:unset ${update.removed.join(' ')}`;
        const serving = deps.state.apps.get(app.name)?.currentReleaseId ? 'the previous release keeps serving; ' : '';
        throw new SlipwayError(
          'DEPLOY_FAILED',
          `${reason}\nThe config change was not applied: ${keys.join(', ')} ${keys.length === 1 ? 'keeps its' : 'keep their'} previous value${keys.length === 1 ? '' : 's'}.`,
          {
            hint: `${serving}fix the cause (slipway logs -a ${app.name}), then run slipway ${command} -a ${app.name} again`,
            details: { notApplied: keys, release: isSlipwayError(err) ? err.details : undefined },
            cause: err,
          },
        );
      }
    },
  };
}

/** Puts back only the keys this change touched, and only while they still hold its values (a later change is not undone). */
function revert(state: State, appId: number, u: ConfigUpdate): void {
  state.db
    .transaction(() => {
      const now = state.configVars.all(appId);
      const restore: Record<string, string> = {};
      const drop: string[] = [];
      for (const [k, v] of Object.entries(u.set)) {
        if (now[k] !== v) continue; // changed again since: not ours to undo
        if (k in u.before) restore[k] = u.before[k];
        else drop.push(k);
      }
      for (const k of u.removed) if (!(k in now)) restore[k] = u.before[k];
      state.configVars.update(appId, restore, drop);
    })
    .immediate();
}
export type ConfigVarsService = ReturnType<typeof createConfigVarsService>;
