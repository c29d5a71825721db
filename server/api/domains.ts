import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { assertCustomDomain } from '../../common/names';
import type { CertificateRow } from '../state/repos/certificates';
import { appFor, body, intParam, record, type ApiDeps } from './context';

const certJson = (c: CertificateRow) => ({
  id: c.id,
  hostnames: c.hostnames,
  expiresAt: c.expiresAt,
  createdAt: c.createdAt,
  source: c.source,
});

/**
 * Custom domains and TLS certificates. Both change what the router serves, so each change
 * republishes run/routes.json (the router swaps its table within a fraction of a second).
 * Private keys go in (sealed at rest) and never come out of the API.
 */
export function createDomainsRoutes(
  deps: Pick<ApiDeps, 'state' | 'logs' | 'acme' | 'config' | 'publishRoutes'>,
): Router {
  const r = Router();
  const domains = () => deps.state.domains;
  const certs = () => deps.state.certificates;
  const publish = async () => {
    await deps.publishRoutes();
  };

  r.get('/apps/:app/domains', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    const platform = { hostname: `${app.name}.${deps.config.domain}`, kind: 'platform', createdAt: app.createdAt };
    res.json([
      platform,
      ...domains()
        .listForApp(app.id)
        .map((d) => ({ hostname: d.hostname, kind: 'custom', createdAt: d.createdAt })),
    ]);
  });
  r.post('/apps/:app/domains', async (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ hostname: string }>(req, { hostname: 'string' }, ['hostname']);
    // IP literals and reserved names are refused here (common/names.ts); the repo checks syntax again.
    const hostname = assertCustomDomain(b.hostname, deps.config.domain);
    const d = domains().add(app.id, hostname, { platformDomain: deps.config.domain });
    await publish();
    // With ACME configured and certs:auto on (the default), a certificate is ordered in the background.
    deps.acme.kick();
    record(deps, res, { app, action: 'domain.add', message: `Domain ${d.hostname} added` });
    const acme = Boolean(deps.acme.configured && app.acmeAuto && !d.hostname.startsWith('*.'));
    res.status(201).json({ hostname: d.hostname, kind: 'custom', createdAt: d.createdAt, acme });
  });
  r.delete('/apps/:app/domains/:hostname', async (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const host = String(req.params.hostname).toLowerCase();
    domains().remove(app.id, host);
    await publish();
    deps.acme.kick(); // deletes the domain's automatic certificate
    record(deps, res, { app, action: 'domain.remove', message: `Domain ${host} removed` });
    res.json({ hostname: host, removed: true });
  });

  r.get('/apps/:app/certs', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json(certs().listForApp(app.id).map(certJson));
  });
  r.post('/apps/:app/certs', async (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ certificate: string; privateKey: string }>(req, { certificate: 'string', privateKey: 'string' }, [
      'certificate',
      'privateKey',
    ]);
    const c = certs().add({ appId: app.id, certPem: b.certificate!, keyPem: b.privateKey! });
    await publish();
    record(deps, res, { app, action: 'cert.add', message: `Certificate ${c.id} added for ${c.hostnames.join(', ')}` });
    res.status(201).json(certJson(c));
  });
  r.delete('/apps/:app/certs/:id', async (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const id = intParam(req.params.id, 'certificate id', 1, Number.MAX_SAFE_INTEGER);
    if (id === undefined) throw new SlipwayError('INVALID_INPUT', 'which certificate?', { hint: 'see slipway certs' });
    certs().remove(app.id, id);
    await publish();
    record(deps, res, { app, action: 'cert.remove', message: `Certificate ${id} removed` });
    res.json({ id, removed: true });
  });

  return r;
}
