import { SlipwayError } from '../../common/errors';
import { assertAppName } from '../../common/names';
import type { State } from '../state';
import type { AppRow } from '../state/repos/apps';
import type { AppRole } from '../state/repos/collaborators';
import type { UserRow } from '../state/repos/users';

/**
 * Who may do what. One table, used by the API, the git endpoint and anything else that acts for a
 * user, so a rule changes in one place. Admins may do everything on every app.
 */
export type AppAction = 'read' | 'deploy' | 'config' | 'scale' | 'run' | 'logs' | 'destroy' | 'access';

export const ROLE_ACTIONS: Record<AppRole, readonly AppAction[]> = {
  owner: ['read', 'deploy', 'config', 'scale', 'run', 'logs', 'destroy', 'access'],
  collaborator: ['read', 'deploy', 'config', 'scale', 'run', 'logs'],
  // Viewers read the app and its logs; config values are hidden from them (keys only).
  viewer: ['read', 'logs'],
};

/** The user a bearer/basic secret belongs to, or undefined (unknown or revoked: checked on every call, so revocation is immediate). */
export function authenticateToken(
  state: State,
  secret: string | undefined | null,
): { user: UserRow; tokenId: number } | undefined {
  if (typeof secret !== 'string' || secret === '') return undefined;
  return state.users.authenticate(secret.trim());
}

export function roleAllows(role: AppRole | undefined, action: AppAction): boolean {
  return role !== undefined && ROLE_ACTIONS[role].includes(action);
}

/** The effective role of a user on an app ('owner' for admins), or undefined without access. */
export function effectiveRole(state: State, user: UserRow, app: AppRow): AppRole | undefined {
  if (user.isAdmin) return 'owner';
  return state.collaborators.roleOf(app.id, user.id);
}

/**
 * The app, if the user may perform the action on it. Unknown app: NOT_FOUND (with the command that
 * creates it); known app without the right: FORBIDDEN, naming the role that would allow it.
 */
export function requireAppRole(state: State, user: UserRow, appName: string, action: AppAction): AppRow {
  const name = assertAppName(appName);
  const app = state.apps.get(name);
  if (!app) {
    throw new SlipwayError('NOT_FOUND', `app "${name}" does not exist`, {
      hint: `create it with: slipway apps:create ${name}`,
    });
  }
  const role = effectiveRole(state, user, app);
  if (!roleAllows(role, action)) {
    const needs =
      action === 'read' || action === 'logs'
        ? 'viewer'
        : ROLE_ACTIONS.collaborator.includes(action)
          ? 'collaborator'
          : 'owner';
    throw new SlipwayError(
      'FORBIDDEN',
      role
        ? `${user.email} is a ${role} of "${name}" and may not ${action} it`
        : `${user.email} has no access to app "${name}"`,
      {
        hint:
          needs === 'owner'
            ? `only the app's owner or an admin may ${action} "${name}"`
            : `ask the app's owner to run: slipway access:add ${user.email} --role ${needs} -a ${name}`,
      },
    );
  }
  return app;
}

/** Platform-wide operations (users, stacks): admins only. */
export function requireAdmin(user: UserRow, what: string): void {
  if (!user.isAdmin) {
    throw new SlipwayError('FORBIDDEN', `only an admin may ${what}`, {
      hint: 'ask an admin of this Slipway installation',
    });
  }
}
