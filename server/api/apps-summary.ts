import { Router } from 'express';
import { auth, appUrl, type ApiDeps } from './context';

/**
 * GET /apps?summary=1: the apps list with what an overview shows (the dashboard's apps page, and
 * anything scripting one): current release, dyno counts by state, last build, and requests per
 * minute over the last hour. Plain GET /apps (without summary) is answered by apps.ts.
 * Everything here is in memory or one indexed query per app, so 50 apps answer in milliseconds.
 */
export function createAppsSummaryRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.get('/apps', async (req, res, next) => {
    if (req.query.summary !== '1' && req.query.summary !== 'true') return next();
    const { user } = auth(res);
    const { state } = deps;
    const apps = user.isAdmin ? state.apps.list() : state.apps.listForUser(user.id);
    const now = Math.floor(Date.now() / 1000);
    const out = await Promise.all(
      apps.map(async (a) => {
        const release = a.currentReleaseId ? state.releases.getById(a.currentReleaseId) : undefined;
        const build = state.builds.latestForApp(a.id);
        const dynos = deps.runtime ? await deps.runtime.listDynos(a.name).catch(() => []) : [];
        const formation = state.formation.list(a.id);
        const byState: Record<string, number> = {};
        for (const d of dynos) byState[d.state] = (byState[d.state] ?? 0) + 1;
        const wanted = formation.reduce((n, f) => n + f.quantity, 0);
        const status = !release
          ? 'new'
          : a.maintenance
            ? 'maintenance'
            : build && (build.status === 'running' || build.status === 'pending')
              ? 'building'
              : (byState.crashed ?? 0) > 0
                ? 'crashed'
                : wanted === 0
                  ? 'idle'
                  : (byState.up ?? 0) >= wanted
                    ? 'up'
                    : 'starting';
        const m = deps.metrics?.query(a.id, { since: now - 3600, until: now, step: 60 });
        return {
          name: a.name,
          role: state.collaborators.roleOf(a.id, user.id) ?? (user.isAdmin ? 'admin' : undefined),
          url: appUrl(deps.config, a.name),
          status,
          release: release
            ? {
                version: release.version,
                status: release.status,
                createdAt: release.createdAt,
                description: release.description,
              }
            : null,
          lastBuild: build
            ? { id: build.id, status: build.status, createdAt: build.createdAt, finishedAt: build.finishedAt }
            : null,
          formation: formation.map((f) => ({ type: f.type, quantity: f.quantity })),
          dynos: { total: dynos.length, byState },
          requests: m ? { since: m.since, step: m.step, counts: m.requests, total: m.summary.requests } : null,
        };
      }),
    );
    res.setHeader('Cache-Control', 'no-store');
    res.json(out.sort((x, y) => x.name.localeCompare(y.name)));
  });
  return r;
}
