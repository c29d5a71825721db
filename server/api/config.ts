import { Router } from 'express';
import { SlipwayError, isSlipwayError } from '../../common/errors';
import { assertConfigKey } from '../../common/names';
import { effectiveRole } from '../auth/permissions';
import { applyConfigChange } from '../releases/config-change';
import { appFor, auth, record, type ApiDeps } from './context';

/**
 * Config var values are capped so one request cannot bloat every release snapshot, every dyno's
 * environment and the build's platform/env; the total per app is capped too (keys + values), well
 * under what execve accepts for a container's environment.
 */
export const MAX_VALUE_BYTES = 32 * 1024;
export const MAX_APP_CONFIG_BYTES = 256 * 1024;

function checkTotal(after: Record<string, string>): void {
  let total = 0;
  for (const [k, v] of Object.entries(after)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (total > MAX_APP_CONFIG_BYTES) {
    throw new SlipwayError('INVALID_INPUT', `the app's config vars would take ${Math.ceil(total / 1024)} KiB, more than the limit of 256 KiB per app`, {
      hint: 'unset vars the app no longer needs, or keep large data (certificates, files) outside config vars',
    });
  }
}

/**
 * Config vars. Values are returned only to users with read rights and never enter events or log
 * lines (those name the keys only). A change makes a new release (same image, new config) when
 * the release service is wired and the app has a build.
 */
export function createConfigRoutes(deps: ApiDeps): Router {
  const r = Router();

  r.get('/apps/:app/config', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    const vars = deps.state.configVars.all(app.id);
    // Viewers see which keys are set, never their values (null, and a header saying why).
    if (effectiveRole(deps.state, auth(res).user, app) === 'viewer') {
      res.setHeader('X-Slipway-Values', 'hidden');
      res.json(Object.fromEntries(Object.keys(vars).map((k) => [k, null])));
      return;
    }
    res.json(vars);
  });

  // PATCH { KEY: "value", OTHER: null }: sets and unsets in one transaction (null unsets).
  r.patch('/apps/:app/config', async (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b: unknown = req.body;
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
          throw new SlipwayError('INVALID_INPUT', `the value of ${k} is larger than 32 KiB (${Math.ceil(Buffer.byteLength(s) / 1024)} KiB)`, {
            hint: 'config values are capped at 32 KiB each and 256 KiB per app; keep large data outside config vars',
          });
        }
        set[k] = s;
      } else throw new SlipwayError('INVALID_INPUT', `the value of ${k} must be a string (or null to unset it)`);
    }
    const { user } = auth(res);
    let outcome: Awaited<ReturnType<typeof applyConfigChange>>;
    try {
      // A release that fails puts the stored vars back (releases/config-change.ts).
      outcome = await applyConfigChange(deps, app, set, unset, { id: user.id, email: user.email }, checkTotal);
    } catch (err) {
      const keys = (isSlipwayError(err) && (err.details?.notApplied as string[] | undefined)) || [];
      if (keys.length) record(deps, res, { app, action: 'config.update', message: `Config change of ${keys.join(', ')} not applied: its release failed`, data: { notApplied: keys } });
      throw err;
    }
    const { config: result, changed, removed, release } = outcome;
    const parts = [changed.length ? `Set ${changed.join(', ')} config vars` : '', removed.length ? `Unset ${removed.join(', ')} config vars` : ''].filter(Boolean);
    if (parts.length) {
      record(deps, res, {
        app,
        action: 'config.update',
        message: parts.join('; ') + (release ? ` (release v${release.version})` : ''),
        data: { set: changed, unset: removed, ...(release ? { release: release.version } : {}) },
      });
    }
    // The body stays the plain config object (scripts diff it); the release made is in a header.
    if (release) res.setHeader('X-Slipway-Release', String(release.version));
    res.json(result);
  });

  return r;
}
