import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openState } from '../../server/state';
import { authenticateToken, requireAppRole, ROLE_ACTIONS, type AppAction } from '../../server/auth/permissions';
import { isSlipwayError } from '../../common/errors';
import { tmpDir } from '../helpers/home';

const ACTIONS: AppAction[] = ['read', 'deploy', 'config', 'scale', 'run', 'logs', 'destroy', 'access'];

test('roles: owner everything, collaborator all but destroy/access, viewer read and logs, admin everything, stranger nothing', () => {
  const dir = tmpDir();
  const state = openState({ dbFile: path.join(dir, 's.db'), keyFile: path.join(dir, 'k') });
  const owner = state.users.create('owner@example.com');
  const collab = state.users.create('collab@example.com');
  const viewer = state.users.create('viewer@example.com');
  const admin = state.users.create('admin@example.com', true);
  const stranger = state.users.create('stranger@example.com');
  const app = state.apps.create({ name: 'perm-app', ownerId: owner.id, stack: 'bookworm' });
  state.collaborators.set(app.id, collab.id, 'collaborator');
  state.collaborators.set(app.id, viewer.id, 'viewer');
  const allowed = (u: typeof owner, a: AppAction) => {
    try {
      return requireAppRole(state, u, 'perm-app', a).id === app.id;
    } catch (err) {
      assert.ok(isSlipwayError(err) && err.code === 'FORBIDDEN');
      return false;
    }
  };
  for (const a of ACTIONS) {
    assert.equal(allowed(owner, a), true, `owner ${a}`);
    assert.equal(allowed(admin, a), true, `admin ${a}`);
    assert.equal(allowed(collab, a), ROLE_ACTIONS.collaborator.includes(a), `collaborator ${a}`);
    assert.equal(allowed(viewer, a), a === 'read' || a === 'logs', `viewer ${a}`);
    assert.equal(allowed(stranger, a), false, `stranger ${a}`);
  }
  assert.deepEqual([...ROLE_ACTIONS.collaborator].sort(), ['config', 'deploy', 'logs', 'read', 'run', 'scale']);
  assert.throws(
    () => requireAppRole(state, owner, 'missing-app', 'read'),
    (e: unknown) => isSlipwayError(e) && e.code === 'NOT_FOUND' && /apps:create missing-app/.test(e.hint ?? ''),
  );
  assert.throws(
    () => requireAppRole(state, owner, '../etc', 'read'),
    (e: unknown) => isSlipwayError(e) && e.code === 'INVALID_NAME',
  );
  assert.throws(() => state.collaborators.remove(app.id, owner.id), /owner cannot be removed/);
  state.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('authenticateToken: valid, unknown, revoked (at once), empty', () => {
  const dir = tmpDir();
  const state = openState({ dbFile: path.join(dir, 's.db'), keyFile: path.join(dir, 'k') });
  const u = state.users.create('ana@example.com');
  const { token, secret } = state.users.createToken(u.id, 'test');
  assert.equal(authenticateToken(state, secret)?.user.email, 'ana@example.com');
  assert.equal(authenticateToken(state, secret)?.tokenId, token.id);
  assert.equal(authenticateToken(state, 'slw_unknown'), undefined);
  assert.equal(authenticateToken(state, ''), undefined);
  assert.equal(authenticateToken(state, undefined), undefined);
  // A disabled user's tokens fail at once and work again when enabled; a deleted user's never.
  state.users.setDisabled(u.id, true);
  assert.equal(authenticateToken(state, secret), undefined);
  state.users.setDisabled(u.id, false);
  assert.equal(authenticateToken(state, secret)?.user.email, 'ana@example.com');
  state.users.revokeToken(u.id, token.id);
  assert.equal(authenticateToken(state, secret), undefined);
  const other = state.users.create('bo@example.com');
  const second = state.users.createToken(other.id, 'test').secret;
  state.users.delete(other.id);
  assert.equal(authenticateToken(state, second), undefined);
  assert.equal(state.users.getByEmail('bo@example.com'), undefined);
  state.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
