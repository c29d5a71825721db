import { Router } from 'express';
import { requireAdmin } from '../auth/permissions';
import { appFor, auth, body, record, recordAs, type ApiDeps } from './context';

/**
 * Stacks API: GET /stacks (any user), PUT /apps/:app/stack (stack:set), POST /stacks/update
 * (admins). The work is the stack service's (server/images/stacks.ts).
 */
export function createStacksRoutes(deps: Pick<ApiDeps, 'state' | 'logs' | 'stacks'>): Router {
  const r = Router();

  r.get('/stacks', async (_req, res) => {
    auth(res);
    res.json(await deps.stacks.list());
  });

  r.put('/apps/:app/stack', (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ stack: string }>(req, { stack: 'string' }, ['stack']);
    const { changed, previous } = deps.stacks.setForApp(app, b.stack!);
    if (changed) record(deps, res, { app, action: 'stack.set', message: `Stack set to ${b.stack} (was ${previous})`, data: { stack: b.stack, previous } });
    res.json({ name: app.name, stack: b.stack, previous });
  });

  r.post('/stacks/update', async (_req, res) => {
    const { user } = auth(res);
    requireAdmin(user, 'update stacks');
    const result = await deps.stacks.update();
    recordAs(deps, user.email, { action: 'stack.update', message: `Stack ${result.name} rebuilt (${result.run})` });
    res.json(result);
  });

  return r;
}
