import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { appFor, auth, body, intParam, record, unavailable, type ApiDeps } from './context';

/** Releases: list, one, rollback. Releases are created by deploys and config changes. */
export function createReleasesRoutes(deps: ApiDeps): Router {
  const r = Router();
  const releases = () => {
    if (!deps.releases) throw unavailable('the release service');
    return deps.releases;
  };

  r.get('/apps/:app/releases', async (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json(await releases().list(app.name));
  });

  r.get('/apps/:app/releases/:version', async (req, res) => {
    const app = appFor(deps, req, res, 'read');
    const version = intParam(String(req.params.version).replace(/^v/, ''), 'version', 1, 1_000_000_000)!;
    const rel = await releases().get(app.name, version);
    if (!rel) throw new SlipwayError('NOT_FOUND', `${app.name} has no release v${version}`, { hint: `see slipway releases -a ${app.name}` });
    res.json(rel);
  });

  // POST { version: 3 } → a new release with v3's image and config.
  r.post('/apps/:app/releases/rollback', async (req, res) => {
    const app = appFor(deps, req, res, 'deploy');
    const b = body<{ version: number }>(req, { version: 'number' }, ['version']);
    const version = intParam(b.version, 'version', 1, 1_000_000_000)!;
    const { user } = auth(res);
    const rel = await releases().rollback(app.name, version, { id: user.id, email: user.email });
    record(deps, res, { app, action: 'release.rollback', message: `Rolled back to v${version} (release v${rel.version})`, data: { to: version, release: rel.version } });
    res.status(201).json(rel);
  });

  return r;
}
