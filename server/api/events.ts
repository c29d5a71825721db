import { Router } from 'express';
import { auth, intParam, type ApiDeps } from './context';
import { requireAdmin, requireAppRole } from '../auth/permissions';

/** The audit trail (`slipway events`): one app's (read rights), or the whole platform's (admins). */
export function createEventsRoutes(deps: Pick<ApiDeps, 'state'>): Router {
  const r = Router();
  r.get('/events', (req, res) => {
    const { user } = auth(res);
    const q = req.query as Record<string, string | undefined>;
    const limit = intParam(q.limit, 'limit', 1, 1000) ?? 100;
    if (q.app) {
      const app = requireAppRole(deps.state, user, q.app, 'read');
      res.json(deps.state.events.list({ appId: app.id, limit }));
      return;
    }
    requireAdmin(user, 'read the events of every app (pass -a APP for one app)');
    res.json(deps.state.events.list({ limit }));
  });
  r.get('/apps/:app/events', (req, res) => {
    const app = requireAppRole(deps.state, auth(res).user, String(req.params.app), 'read');
    const limit = intParam((req.query as Record<string, string>).limit, 'limit', 1, 1000) ?? 100;
    res.json(deps.state.events.list({ appId: app.id, limit }));
  });
  return r;
}
