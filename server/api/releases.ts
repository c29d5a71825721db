import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import type { AppRow } from '../state/repos/apps';
import type { ReleaseRow } from '../state/repos/releases';
import { appFor, auth, body, intParam, type ApiDeps } from './context';

/** What users see of a release: never its config snapshot. */
function releaseJson(deps: Pick<ApiDeps, 'state'>, app: AppRow, r: ReleaseRow) {
  return {
    version: r.version,
    description: r.description,
    status: r.status,
    current: app.currentReleaseId === r.id,
    user: r.userId ? (deps.state.users.emailOf(r.userId) ?? null) : null,
    buildId: r.buildId,
    imageDigest: r.imageDigest,
    processTypes: r.processTypes,
    releaseCommand: r.releaseCommand,
    createdAt: r.createdAt,
  };
}

/** Releases: list, one, rollback. Releases are created by deploys and config changes. */
export function createReleasesRoutes(deps: Pick<ApiDeps, 'state' | 'logs' | 'releases'>): Router {
  const r = Router();
  const releases = () => deps.releases;

  r.get('/apps/:app/releases', async (req, res) => {
    const app = appFor(deps, req, res, 'read');
    // Reads need only the state; rollback needs the release service (it deploys).
    const list = deps.state.releases.list(app.id);
    res.json(list.map((rel) => releaseJson(deps, app, rel)).sort((a, b) => b.version - a.version));
  });

  r.get('/apps/:app/releases/:version', async (req, res) => {
    const app = appFor(deps, req, res, 'read');
    const version = intParam(String(req.params.version).replace(/^v/, ''), 'version', 1, 1_000_000_000)!;
    const rel = deps.state.releases.get(app.id, version);
    if (!rel)
      throw new SlipwayError('NOT_FOUND', `${app.name} has no release v${version}`, {
        hint: `see slipway releases -a ${app.name}`,
      });
    res.json(releaseJson(deps, app, rel));
  });

  // POST { version: 3 } → a new release with v3's image and config.
  r.post('/apps/:app/releases/rollback', async (req, res) => {
    const app = appFor(deps, req, res, 'deploy');
    const b = body<{ version: number }>(req, { version: 'number' }, ['version']);
    const version = intParam(b.version, 'version', 1, 1_000_000_000)!;
    const { user } = auth(res);
    const rel = await releases().rollback(app.name, version, { id: user.id, email: user.email });
    // The release service records the event and the `Release vN created by ...` log line.
    res.status(201).json(releaseJson(deps, deps.state.apps.get(app.name) ?? app, rel));
  });

  return r;
}
