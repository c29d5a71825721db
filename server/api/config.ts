import { Router } from 'express';
import { isSlipwayError } from '../../common/errors';
import { effectiveRole } from '../auth/permissions';
import { parseConfigChanges, type ConfigVarsService } from '../apps/config-vars';
import { appFor, auth, record, type ApiDeps } from './context';

/**
 * Config vars API. Values are returned only to users with read rights and never enter events or
 * log lines (those name the keys only). The work is the config vars service's
 * (server/apps/config-vars.ts): validation, the change, the config release.
 */
export function createConfigRoutes(deps: Pick<ApiDeps, 'state' | 'logs'> & { configVars: ConfigVarsService }): Router {
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
    const update = deps.configVars.update(app, parseConfigChanges(req.body));
    let release: { version: number } | undefined;
    if (update.description) {
      const { user } = auth(res);
      try {
        // A release that fails puts the stored vars back (apps/config-vars.ts).
        release = await deps.configVars.release(app, { id: user.id, email: user.email }, update);
      } catch (err) {
        const keys = (isSlipwayError(err) && (err.details?.notApplied as string[] | undefined)) || [];
        if (keys.length)
          record(deps, res, {
            app,
            action: 'config.update',
            message: `Config change of ${keys.join(', ')} not applied: its release failed`,
            data: { notApplied: keys },
          });
        throw err;
      }
      record(deps, res, {
        app,
        action: 'config.update',
        message: update.description + (release ? ` (release v${release.version})` : ''),
        data: { set: update.changed, unset: update.removed, ...(release ? { release: release.version } : {}) },
      });
    }
    // The body stays the plain config object (scripts diff it); the release made is in a header.
    if (release) res.setHeader('X-Slipway-Release', String(release.version));
    res.json(update.config);
  });

  return r;
}
