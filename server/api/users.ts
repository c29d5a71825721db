import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { LIMIT_INFO, LIMIT_KEYS, isLimitKey, type LimitKey } from '../../common/limits';
import { limitsOf } from '../auth/limits';
import { requireAdmin } from '../auth/permissions';
import type { UserRow } from '../state/repos/users';
import { auth, body, intParam, record, type ApiDeps } from './context';

export const userJson = (u: UserRow) => ({
  email: u.email,
  admin: u.isAdmin,
  disabled: u.disabledAt !== null,
  disabledAt: u.disabledAt,
  createdAt: u.createdAt,
});

/**
 * Offboarding and roles (admins): disable/enable, delete, promote/demote, revoke another user's
 * tokens; and per-account limits (anyone reads their own, admins read and set anyone's). Every
 * change that takes access away also ends the user's open log sessions at once.
 */
export function createUsersRoutes(deps: ApiDeps): Router {
  const r = Router();
  const { state } = deps;

  const target = (raw: unknown): UserRow => {
    const email = String(raw ?? '');
    const u = state.users.getByEmail(email);
    if (!u) throw new SlipwayError('NOT_FOUND', `no user ${email}`, { hint: 'see slipway users' });
    return u;
  };
  /** Refuses a change that would leave no admin able to log in. */
  const keepAnAdmin = (u: UserRow, what: string) => {
    if (u.isAdmin && !u.disabledAt && state.users.countActiveAdmins() <= 1) {
      throw new SlipwayError('CONFLICT', `${u.email} is the only active admin and cannot be ${what}`, {
        hint: `make another admin first: slipway users:role OTHER admin`,
      });
    }
  };
  const endSessions = (tokenIds: number[]) => tokenIds.reduce((n, id) => n + (deps.sessions?.endAll(id) ?? 0), 0);
  const ended = (n: number) => (n ? ` (${n} open log session${n > 1 ? 's' : ''} ended)` : '');

  r.post('/users/:email/disable', (req, res) => {
    const admin = auth(res).user;
    requireAdmin(admin, 'disable users');
    const u = target(req.params.email);
    if (!u.disabledAt) keepAnAdmin(u, 'disabled');
    state.users.setDisabled(u.id, true);
    const n = endSessions(state.users.activeTokenIds(u.id));
    // A build already running for them stops too (before its release; a release under way finishes).
    const b = deps.cancelBuildsOf?.(u.id, admin.email) ?? 0;
    const builds = b ? ` (${b} running build${b > 1 ? 's' : ''} cancelled)` : '';
    record(deps, res, { action: 'user.disable', message: `User ${u.email} disabled${ended(n)}${builds}` });
    res.json({ ...userJson(state.users.getById(u.id)!), sessionsEnded: n, buildsCancelled: b });
  });
  r.post('/users/:email/enable', (req, res) => {
    requireAdmin(auth(res).user, 'enable users');
    const u = target(req.params.email);
    state.users.setDisabled(u.id, false);
    record(deps, res, { action: 'user.enable', message: `User ${u.email} enabled` });
    res.json(userJson(state.users.getById(u.id)!));
  });
  r.put('/users/:email/role', (req, res) => {
    requireAdmin(auth(res).user, 'change roles');
    const u = target(req.params.email);
    const b = body<{ role: string }>(req, { role: 'string' }, ['role']);
    if (b.role !== 'admin' && b.role !== 'member') {
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(b.role)} is not a platform role`, {
        hint: 'use admin or member',
      });
    }
    if (b.role === 'member') keepAnAdmin(u, 'demoted');
    state.users.setAdmin(u.id, b.role === 'admin');
    record(deps, res, {
      action: 'user.role',
      message: `User ${u.email} is now ${b.role === 'admin' ? 'an admin' : 'a member'}`,
    });
    res.json(userJson(state.users.getById(u.id)!));
  });
  r.delete('/users/:email', (req, res) => {
    requireAdmin(auth(res).user, 'delete users');
    const u = target(req.params.email);
    keepAnAdmin(u, 'deleted');
    const owned = state.apps.listOwnedBy(u.id);
    if (owned.length) {
      throw new SlipwayError(
        'CONFLICT',
        `${u.email} still owns ${owned.length} app${owned.length > 1 ? 's' : ''}: ${owned.slice(0, 10).join(', ')}`,
        {
          hint: `destroy them first (slipway apps:destroy APP --confirm APP), or disable the user instead: slipway users:disable ${u.email}`,
        },
      );
    }
    const n = endSessions(state.users.activeTokenIds(u.id));
    state.users.delete(u.id);
    record(deps, res, { action: 'user.delete', message: `User ${u.email} deleted${ended(n)}` });
    res.json({ email: u.email, deleted: true, sessionsEnded: n });
  });

  // Another user's tokens (admins): list, revoke one, revoke all.
  r.get('/users/:email/tokens', (req, res) => {
    requireAdmin(auth(res).user, "list another user's tokens");
    const u = target(req.params.email);
    res.json(
      state.users.listTokens(u.id).map((t) => ({
        id: t.id,
        description: t.description,
        prefix: t.prefix,
        createdAt: t.createdAt,
        lastUsedAt: t.lastUsedAt,
        revokedAt: t.revokedAt,
      })),
    );
  });
  r.delete('/users/:email/tokens', (req, res) => {
    requireAdmin(auth(res).user, "revoke another user's tokens");
    const u = target(req.params.email);
    const ids = state.users.revokeAllTokens(u.id);
    const n = endSessions(ids);
    record(deps, res, {
      action: 'token.revoke',
      message: `All ${ids.length} token${ids.length === 1 ? '' : 's'} of ${u.email} revoked${ended(n)}`,
    });
    res.json({ email: u.email, revoked: ids, sessionsEnded: n });
  });
  r.delete('/users/:email/tokens/:id', (req, res) => {
    requireAdmin(auth(res).user, "revoke another user's tokens");
    const u = target(req.params.email);
    const id = intParam(req.params.id, 'token id', 1, Number.MAX_SAFE_INTEGER)!;
    if (!state.users.revokeToken(u.id, id))
      throw new SlipwayError('NOT_FOUND', `${u.email} has no active token ${id}`, {
        hint: `see slipway tokens --user ${u.email}`,
      });
    const n = endSessions([id]);
    record(deps, res, { action: 'token.revoke', message: `Token ${id} of ${u.email} revoked${ended(n)}` });
    res.json({ email: u.email, revoked: [id], sessionsEnded: n });
  });

  // Limits: GET /limits (yours), GET /users/:email/limits (yours or, for admins, anyone's),
  // PATCH /users/:email/limits { "apps": 20, "dynos": null } (admins; null resets to the default).
  const limitsJson = (u: UserRow) => {
    const overrides = state.limits.overrides(u.id);
    return {
      email: u.email,
      limits: limitsOf(state, deps.config, u.id),
      defaults: deps.config.limits,
      overrides,
      usage: { apps: state.apps.countOwnedBy(u.id) },
    };
  };
  r.get('/limits', (_req, res) => res.json(limitsJson(auth(res).user)));
  r.get('/users/:email/limits', (req, res) => {
    const me = auth(res).user;
    const u = target(req.params.email);
    if (u.id !== me.id) requireAdmin(me, "read another user's limits");
    res.json(limitsJson(u));
  });
  r.patch('/users/:email/limits', (req, res) => {
    requireAdmin(auth(res).user, 'set limits');
    const u = target(req.params.email);
    const b: unknown = req.body;
    if (typeof b !== 'object' || b === null || Array.isArray(b) || Object.keys(b).length === 0) {
      throw new SlipwayError('INVALID_INPUT', 'send a JSON object of limits, like {"apps": 20, "dynos": null}', {
        hint: `keys: ${LIMIT_KEYS.join(', ')}; null resets a limit to the default`,
      });
    }
    const values: Partial<Record<LimitKey, number | null>> = {};
    for (const [k, v] of Object.entries(b)) {
      if (!isLimitKey(k))
        throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(k)} is not a limit`, {
          hint: `limits: ${LIMIT_KEYS.join(', ')}`,
        });
      if (v !== null && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > LIMIT_INFO[k].max)) {
        throw new SlipwayError(
          'INVALID_INPUT',
          `${k} must be a whole number from 0 to ${LIMIT_INFO[k].max} (${LIMIT_INFO[k].unit}), or null for the default`,
        );
      }
      values[k] = v as number | null;
    }
    state.limits.set(u.id, values);
    const desc = Object.entries(values)
      .map(([k, v]) => `${k}=${v === null ? 'default' : v}`)
      .join(', ');
    record(deps, res, {
      action: 'limits.set',
      message: `Limits of ${u.email} set: ${desc}`,
      data: { user: u.email, limits: values },
    });
    res.json(limitsJson(u));
  });

  return r;
}
