import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { assertConfigKey } from '../../common/names';
import { appFor, auth, record, type ApiDeps } from './context';

/** Config var values are capped so one request cannot bloat every release snapshot. */
const MAX_VALUE_BYTES = 32 * 1024;

/**
 * Config vars. Values are returned only to users with read rights and never enter events or log
 * lines (those name the keys only). A change makes a new release (same image, new config) when
 * the release service is wired and the app has a build.
 */
export function createConfigRoutes(deps: ApiDeps): Router {
  const r = Router();

  r.get('/apps/:app/config', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json(deps.state.configVars.all(app.id));
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
        if (Buffer.byteLength(s) > MAX_VALUE_BYTES) throw new SlipwayError('INVALID_INPUT', `the value of ${k} is larger than 32 KiB`);
        set[k] = s;
      } else throw new SlipwayError('INVALID_INPUT', `the value of ${k} must be a string (or null to unset it)`);
    }
    const before = deps.state.configVars.all(app.id);
    const result = deps.state.configVars.update(app.id, set, unset);
    const changed = Object.keys(set).filter((k) => before[k] !== set[k]);
    const removed = unset.filter((k) => k in before);
    const parts = [changed.length ? `Set ${changed.join(', ')} config vars` : '', removed.length ? `Unset ${removed.join(', ')} config vars` : ''].filter(Boolean);
    let release: { version: number } | undefined;
    if (parts.length) {
      // Recorded even when the release fails: the vars did change (and are kept, as on Heroku).
      try {
        if (deps.releases) {
          const { user } = auth(res);
          release = await deps.releases.configChanged(app.name, { id: user.id, email: user.email });
        }
      } finally {
        record(deps, res, {
          app,
          action: 'config.update',
          message: parts.join('; ') + (release ? ` (release v${release.version})` : ''),
          data: { set: changed, unset: removed, ...(release ? { release: release.version } : {}) },
        });
      }
    }
    // The body stays the plain config object (scripts diff it); the release made is in a header.
    if (release) res.setHeader('X-Slipway-Release', String(release.version));
    res.json(result);
  });

  return r;
}
