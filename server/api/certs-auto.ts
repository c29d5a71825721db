import { Router } from 'express';
import type { AppRow } from '../state/repos/apps';
import { appFor, body, record, type ApiDeps } from './context';

/**
 * Automatic certificates per app (docs/tls.md): GET /apps/:app/certs/auto lists each custom
 * domain's state; POST enables, DELETE disables, POST .../refresh orders new certificates now.
 * The ordering itself runs in server/acme/manager.ts, in the background.
 */
export function createCertsAutoRoutes(
  deps: Pick<ApiDeps, 'state' | 'logs' | 'acme' | 'config' | 'publishRoutes'>,
): Router {
  const r = Router();
  const { state } = deps;

  const view = (app: AppRow) => {
    const rows = new Map(state.acme.listForApp(app.id).map((x) => [x.hostname, x]));
    const fresh = state.apps.getById(app.id) ?? app;
    return {
      enabled: fresh.acmeAuto,
      configured: deps.acme.configured,
      directoryUrl: deps.config.acme?.directoryUrl ?? null,
      domains: state.domains.listForApp(app.id).map((d) => {
        const x = rows.get(d.hostname);
        const status = d.hostname.startsWith('*.') ? 'wildcard' : x ? x.status : 'off';
        return {
          hostname: d.hostname,
          status,
          certificateId: x?.certificateId ?? null,
          expiresAt: x?.expiresAt ?? null,
          error: x?.error ?? null,
          failures: x?.failures ?? 0,
          nextAttemptAt: x?.nextAttemptAt ?? null,
        };
      }),
    };
  };

  r.get('/apps/:app/certs/auto', (req, res) => {
    res.json(view(appFor(deps, req, res, 'read')));
  });
  r.post('/apps/:app/certs/auto', (req, res) => {
    const app = appFor(deps, req, res, 'config');
    body(req, {}, []);
    state.apps.setAcmeAuto(app.id, true);
    deps.acme.kick();
    record(deps, res, { app, action: 'cert.auto.enable', message: 'Automatic certificates enabled' });
    res.json(view(app));
  });
  r.delete('/apps/:app/certs/auto', async (req, res) => {
    const app = appFor(deps, req, res, 'config');
    state.apps.setAcmeAuto(app.id, false);
    // Untracks the domains and deletes their automatic certificates at once (uploaded ones stay).
    for (const x of state.acme.listForApp(app.id)) state.acme.untrack(x.domainId);
    for (const id of state.acme.orphanCertificateIds()) state.acme.deleteCertificate(id);
    await deps.publishRoutes();
    record(deps, res, { app, action: 'cert.auto.disable', message: 'Automatic certificates disabled' });
    res.json(view(app));
  });
  r.post('/apps/:app/certs/auto/refresh', (req, res) => {
    const app = appFor(deps, req, res, 'config');
    deps.acme.refresh(app.id);
    record(deps, res, { app, action: 'cert.auto.refresh', message: 'Automatic certificates: new orders requested' });
    res.status(202).json(view(app));
  });
  return r;
}
