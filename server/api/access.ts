import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { requireAdmin } from '../auth/permissions';
import type { AppRole } from '../state/repos/collaborators';
import { appFor, auth, body, intParam, record, type ApiDeps } from './context';
import { userJson } from './users';

const tokenJson = (
  t: {
    id: number;
    description: string;
    prefix: string;
    createdAt: string;
    lastUsedAt: string | null;
    revokedAt: string | null;
  },
  currentId?: number,
) => ({
  id: t.id,
  description: t.description,
  prefix: t.prefix,
  createdAt: t.createdAt,
  lastUsedAt: t.lastUsedAt,
  revokedAt: t.revokedAt,
  current: t.id === currentId,
});

/** Account, API tokens, users (admins) and per-app access (collaborators and viewers). */
export function createAccessRoutes(deps: Pick<ApiDeps, 'state' | 'logs' | 'sessions'>): Router {
  const r = Router();
  const { state } = deps;

  r.get('/account', (_req, res) => {
    const { user, tokenId } = auth(res);
    res.json({ email: user.email, admin: user.isAdmin, tokenId, createdAt: user.createdAt });
  });

  // Tokens: the secret is returned once, at creation; only its hash is stored.
  r.get('/tokens', (_req, res) => {
    const { user, tokenId } = auth(res);
    res.json(state.users.listTokens(user.id).map((t) => tokenJson(t, tokenId)));
  });
  r.post('/tokens', (req, res) => {
    const { user } = auth(res);
    const b = body<{ description: string }>(req, { description: 'string' });
    const { token, secret } = state.users.createToken(user.id, b.description ?? '');
    record(deps, res, { action: 'token.create', message: `Token ${token.prefix}… created` });
    res.status(201).json({ ...tokenJson(token), token: secret });
  });
  r.delete('/tokens/:id', (req, res) => {
    const { user } = auth(res);
    const id = intParam(req.params.id, 'token id', 1, Number.MAX_SAFE_INTEGER)!;
    if (!state.users.revokeToken(user.id, id)) {
      throw new SlipwayError('NOT_FOUND', `you have no active token ${id}`, { hint: 'see slipway tokens' });
    }
    const ended = deps.sessions?.endAll(id) ?? 0;
    record(deps, res, {
      action: 'token.revoke',
      message: `Token ${id} revoked${ended ? ` (${ended} open log session${ended > 1 ? 's' : ''} ended)` : ''}`,
    });
    res.json(tokenJson(state.users.getToken(id)!));
  });

  // Users (admins only). Creating a user returns their first token once.
  r.get('/users', (_req, res) => {
    requireAdmin(auth(res).user, 'list users');
    res.json(state.users.list().map(userJson));
  });
  r.post('/users', (req, res) => {
    requireAdmin(auth(res).user, 'create users');
    const b = body<{ email: string; admin: boolean }>(req, { email: 'string', admin: 'boolean' }, ['email']);
    const user = state.users.create(b.email!, b.admin ?? false);
    const { secret } = state.users.createToken(user.id, 'created by an admin');
    record(deps, res, {
      action: 'user.create',
      message: `User ${user.email} created${user.isAdmin ? ' (admin)' : ''}`,
    });
    res.status(201).json({ email: user.email, admin: user.isAdmin, createdAt: user.createdAt, token: secret });
  });

  // Per-app access.
  r.get('/apps/:app/collaborators', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json(state.collaborators.list(app.id).map((c) => ({ email: c.email, role: c.role, createdAt: c.createdAt })));
  });
  r.post('/apps/:app/collaborators', (req, res) => {
    const app = appFor(deps, req, res, 'access');
    const b = body<{ email: string; role: string }>(req, { email: 'string', role: 'string' }, ['email']);
    const role = (b.role ?? 'collaborator') as AppRole;
    if (role !== 'collaborator' && role !== 'viewer') {
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(role)} is not a role you can grant`, {
        hint: 'use --role collaborator or --role viewer',
      });
    }
    const user = state.users.getByEmail(b.email!);
    if (!user)
      throw new SlipwayError('NOT_FOUND', `no user ${b.email}`, {
        hint: 'an admin creates users with: slipway users:create EMAIL',
      });
    state.collaborators.set(app.id, user.id, role);
    record(deps, res, { app, action: 'access.add', message: `${user.email} added as ${role}` });
    res.status(201).json({ email: user.email, role });
  });
  r.delete('/apps/:app/collaborators/:email', (req, res) => {
    const app = appFor(deps, req, res, 'access');
    const user = state.users.getByEmail(String(req.params.email));
    if (!user || !state.collaborators.remove(app.id, user.id)) {
      throw new SlipwayError('NOT_FOUND', `${req.params.email} has no access to ${app.name}`, {
        hint: 'see slipway access',
      });
    }
    record(deps, res, { app, action: 'access.remove', message: `${user.email} removed` });
    res.json({ email: user.email, removed: true });
  });

  return r;
}
