import { Router } from 'express';
import { VERSION } from '../../common/version';
import { auth, type ApiDeps } from './context';

export function createStatusRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.get('/status', (_req, res) => {
    auth(res);
    res.json({ server: { status: 'ok', version: VERSION } });
  });
  return r;
}
