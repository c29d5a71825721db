import { Router } from 'express';
import { unavailable, type ApiDeps } from './context';

/** Custom domains and certificates: wired once server/state/repos/domains.ts and certificates.ts exist. */
export function createDomainsRoutes(deps: ApiDeps): Router {
  const r = Router();
  void deps;
  r.all(['/apps/:app/domains', '/apps/:app/domains/:host', '/apps/:app/certs', '/apps/:app/certs/:id'], () => {
    throw unavailable('domains and certificates');
  });
  return r;
}
