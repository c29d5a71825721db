import * as fs from 'node:fs';
import { Router, type Response } from 'express';
import { SlipwayError } from '../../common/errors';
import { requireAppRole } from '../auth/permissions';
import type { AddonRow, BackupRow } from '../state/repos/addons';
import { appFor, auth, body, type ApiDeps } from './context';
import { upgradeAddon } from '../addons/upgrade';

/**
 * Add-on routes (docs/api.md "Add-ons", docs/addons.md). Services are named globally; a caller sees
 * only the services it may use (admins, the owner, collaborators of an attached app) and gets 404
 * for the others, so names of other owners' services do not leak.
 */
function addonsOf(deps: ApiDeps) {
  if (!deps.addons) {
    throw new SlipwayError('DOCKER_UNAVAILABLE', 'add-ons are not available on this server', {
      hint: 'the add-on service is not running; see the server log under SLIPWAY_HOME/log',
    });
  }
  return deps.addons;
}

const backupJson = (b: BackupRow) => ({
  id: `b${b.id}`,
  addon: b.addonName,
  kind: b.kind,
  status: b.status,
  size: b.size,
  scheduled: b.scheduled,
  error: b.error,
  createdAt: b.createdAt,
  finishedAt: b.finishedAt,
});

export function createAddonsRoutes(deps: ApiDeps): Router {
  const r = Router();
  const user = (res: Response) => auth(res).user;
  const addon = (res: Response, name: string, ownerOnly = false): AddonRow =>
    addonsOf(deps).service.requireAddon(user(res), name, ownerOnly);

  r.get('/addons', (req, res) => {
    const a = addonsOf(deps);
    const app =
      typeof req.query.app === 'string' && req.query.app
        ? requireAppRole(deps.state, user(res), req.query.app, 'read')
        : undefined;
    res.json(a.service.list(user(res), app));
  });

  r.post('/apps/:app/addons', async (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ kind: string; plan: string; as: string; name: string }>(
      req,
      { kind: 'string', plan: 'string', as: 'string', name: 'string' },
      ['kind'],
    );
    const created = await addonsOf(deps).service.create({
      user: user(res),
      app,
      kind: b.kind,
      plan: b.plan,
      as: b.as,
      name: b.name,
    });
    if (created.release) res.setHeader('X-Slipway-Release', String(created.release));
    res.status(201).json(created);
  });

  r.get('/addons/:name', (req, res) => {
    const a = addonsOf(deps);
    res.json(a.service.info(addon(res, req.params.name)));
  });

  r.post('/addons/:name/attachments', async (req, res) => {
    const b = body<{ app: string; as: string }>(req, { app: 'string', as: 'string' }, ['app']);
    const target = requireAppRole(deps.state, user(res), b.app!, 'config');
    const out = await addonsOf(deps).service.attach(addon(res, req.params.name, true), target, b.as, user(res));
    res.status(201).json(out);
  });

  r.delete('/addons/:name/attachments/:app', async (req, res) => {
    const target = requireAppRole(deps.state, user(res), req.params.app, 'config');
    res.json(await addonsOf(deps).service.detach(addon(res, req.params.name), target, user(res)));
  });

  // DELETE /addons/NAME?confirm=NAME[&force=true]: the name twice, like apps:destroy.
  r.delete('/addons/:name', async (req, res) => {
    const a = addon(res, req.params.name, true);
    if (req.query.confirm !== a.name) {
      throw new SlipwayError('INVALID_INPUT', `destroying ${a.name} deletes its data; confirm with its name`, {
        hint: `slipway addons:destroy ${a.name} --confirm ${a.name}`,
      });
    }
    res.json({
      name: a.name,
      destroyed: true,
      ...(await addonsOf(deps).service.destroy(a, req.query.force === 'true', user(res))),
    });
  });

  r.post('/addons/:name/restart', async (req, res) => {
    const a = addon(res, req.params.name);
    await addonsOf(deps).service.restart(a);
    res.json(addonsOf(deps).service.info(a));
  });

  r.post('/addons/:name/credentials/rotate', async (req, res) => {
    const a = addon(res, req.params.name, true);
    res.json(await addonsOf(deps).service.rotate(a, user(res)));
  });

  // A new service (current stack's major, optionally another plan) with a restored backup; the apps move to it.
  r.post('/addons/:name/upgrade', async (req, res) => {
    const a = addon(res, req.params.name, true);
    const b = body<{ plan: string }>(req, { plan: 'string' });
    res.json(await upgradeAddon(addonsOf(deps), a, { plan: b.plan }, user(res)));
  });

  r.get('/addons/:name/backups', (req, res) => {
    const a = addon(res, req.params.name);
    res.json(addonsOf(deps).backups.list(a.name).map(backupJson));
  });

  r.post('/addons/:name/backups', async (req, res) => {
    const a = addon(res, req.params.name);
    res.status(201).json(backupJson(await addonsOf(deps).backups.capture(a)));
  });

  // A backup is reachable through any service of its owner, so one can be restored into a new service.
  const ownBackup = (res: Response, via: AddonRow, id: string): BackupRow => {
    const b = addonsOf(deps).backups.find(id);
    if (b.ownerId !== via.ownerId)
      throw new SlipwayError('NOT_FOUND', `no backup ${id}`, {
        hint: `list them with: slipway addons:backups ${via.name}`,
      });
    return b;
  };

  r.get('/addons/:name/backups/:id/download', (req, res) => {
    const a = addon(res, req.params.name);
    const b = ownBackup(res, a, req.params.id);
    if (b.status !== 'succeeded' || !fs.existsSync(b.file))
      throw new SlipwayError('NOT_FOUND', `backup b${b.id} has no file (${b.status})`, {
        hint: 'choose a succeeded backup',
      });
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(fs.statSync(b.file).size));
    res.setHeader(
      'Content-Disposition',
      `attachment; filename="${b.addonName}-b${b.id}.${b.kind === 'postgres' ? 'dump' : 'rdb'}"`,
    );
    fs.createReadStream(b.file).pipe(res);
  });

  r.post('/addons/:name/restore', async (req, res) => {
    const a = addon(res, req.params.name);
    const bd = body<{ backup: string }>(req, { backup: 'string' }, ['backup']);
    const b = ownBackup(res, a, bd.backup!);
    await addonsOf(deps).backups.restore(a, b);
    res.json({ restored: `b${b.id}`, into: a.name });
  });

  r.put('/addons/:name/backups/schedule', (req, res) => {
    const a = addon(res, req.params.name);
    const b = req.body as { at?: unknown };
    const at = b?.at === null || b?.at === undefined ? null : String(b.at);
    addonsOf(deps).backups.setSchedule(a, at);
    res.json({ addon: a.name, at });
  });

  return r;
}
