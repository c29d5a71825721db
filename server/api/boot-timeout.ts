import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { appFor, body, record, type ApiDeps } from './context';

/**
 * The per-app boot timeout: how long a new web dyno has to answer on $PORT (and pass its checks)
 * before the deploy, config change, restart or rollback fails. The app's own setting wins over
 * app.json `boot_timeout`, which wins over the platform default; none may exceed the platform
 * maximum (SLIPWAY_BOOT_TIMEOUT_MAX_S).
 *
 *   GET /apps/:app/boot-timeout   → { seconds: 180 | null, effective: 180, source, default, max }
 *   PUT /apps/:app/boot-timeout   { seconds: 180 | null }   (null: back to app.json / default)
 */
export function createBootTimeoutRoutes(deps: ApiDeps): Router {
  const r = Router();
  const defaultS = Math.round(deps.config.bootTimeoutMs / 1000);
  const maxS = Math.round(Math.max(deps.config.bootTimeoutMaxMs, deps.config.bootTimeoutMs) / 1000);

  const shown = (app: { bootTimeoutS: number | null; currentReleaseId: number | null }) => {
    const rel = app.currentReleaseId ? deps.state.releases.getById(app.currentReleaseId) : undefined;
    const fromJson = rel?.appJson.bootTimeout;
    const [wanted, source] = app.bootTimeoutS
      ? [app.bootTimeoutS, 'app']
      : fromJson
        ? [fromJson, 'app.json']
        : [defaultS, 'default'];
    return { seconds: app.bootTimeoutS, effective: Math.min(wanted, maxS), source, default: defaultS, max: maxS };
  };

  r.get('/apps/:app/boot-timeout', (req, res) => {
    res.json(shown(appFor(deps, req, res, 'read')));
  });

  r.put('/apps/:app/boot-timeout', (req, res) => {
    const app = appFor(deps, req, res, 'config');
    // null resets; body() checks everything else (a number, no unknown fields).
    const reset = (req.body as { seconds?: unknown } | undefined)?.seconds === null;
    const s = reset ? null : (body<{ seconds: number }>(req, { seconds: 'number' }, ['seconds']).seconds ?? null);
    if (s !== null && (!Number.isInteger(s) || s < 1 || s > maxS)) {
      throw new SlipwayError(
        'INVALID_INPUT',
        `the boot timeout must be a whole number of seconds from 1 to ${maxS} (this platform's maximum)`,
        {
          hint: `for example: slipway ps:boot-timeout 180; an operator raises the maximum with SLIPWAY_BOOT_TIMEOUT_MAX_S`,
        },
      );
    }
    deps.state.apps.setBootTimeout(app.id, s);
    record(deps, res, {
      app,
      action: 'boot-timeout',
      message: s ? `Boot timeout set to ${s} s` : 'Boot timeout reset to the default',
    });
    res.json(shown(deps.state.apps.require(app.name)));
  });
  return r;
}
