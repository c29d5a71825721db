import { randomInt } from 'node:crypto';
import { Router } from 'express';
import { aliasesEnabled, checkAlias } from '../../buildpacks/lifecycle/aliases';
import { SlipwayError } from '../../common/errors';
import { assertNewAppName } from '../../common/names';
import type { AppRow } from '../state/repos/apps';
import { runsAsRoot } from '../state/repos/releases';
import type { UserRow } from '../state/repos/users';
import { limitError, limitsOf } from '../auth/limits';
import { stackInfo } from '../../stacks/info';
import { validateBuildpackRef } from '../builds/buildpack-refs';
import { appFor, appUrl, auth, body, gitUrl, record, type ApiDeps } from './context';

const ADJECTIVES = [
  'calm',
  'brave',
  'quiet',
  'lucky',
  'rapid',
  'gentle',
  'bright',
  'silent',
  'frozen',
  'golden',
  'hidden',
  'polar',
  'rusty',
  'sunny',
  'misty',
  'bold',
];
const NOUNS = [
  'harbor',
  'river',
  'meadow',
  'canyon',
  'forest',
  'island',
  'summit',
  'comet',
  'falcon',
  'otter',
  'pine',
  'reef',
  'dune',
  'glacier',
  'lagoon',
  'ridge',
];

/** Heroku-style random names: adjective-noun-1234. */
export function randomAppName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000, 10000)}`;
}

export function appJson(deps: Pick<ApiDeps, 'state' | 'config'>, app: AppRow, role?: string) {
  const owner = deps.state.users.getById(app.ownerId);
  return {
    name: app.name,
    owner: owner?.email ?? null,
    stack: app.stack,
    url: appUrl(deps.config, app.name),
    gitUrl: gitUrl(deps.config, app.name),
    maintenance: app.maintenance,
    httpsOnly: app.httpsOnly,
    buildpacks: app.buildpacks,
    builder: app.buildSettings.builder ?? 'auto',
    ...imageUser(deps, app),
    deployBranch: app.deployBranch,
    currentReleaseId: app.currentReleaseId,
    createdAt: app.createdAt,
    ...(role ? { role } : {}),
  };
}

/** A release image that runs as its own USER (Dockerfile, image deploys): who, and whether that is root. */
function imageUser(deps: Pick<ApiDeps, 'state'>, app: AppRow): { imageUser?: string; runsAsRoot?: boolean } {
  const current = app.currentReleaseId ? deps.state.releases.getById(app.currentReleaseId) : undefined;
  if (!current?.runSpec) return {};
  return { imageUser: current.runSpec.user || 'root', runsAsRoot: runsAsRoot(current.runSpec) };
}

const BUILDPACK_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@+~#-]{0,511}$/;
function assertBuildpack(ref: unknown): string {
  if (typeof ref !== 'string' || !BUILDPACK_RE.test(ref)) {
    throw new SlipwayError(
      'INVALID_INPUT',
      `${JSON.stringify(String(ref)).slice(0, 80)} is not a buildpack reference`,
      {
        hint: 'use a buildpack id (slipway/nodejs), a URL (https://.../bp.tgz) or a git URL',
      },
    );
  }
  return validateBuildpackRef(ref);
}

export function createAppsRoutes(
  deps: Pick<
    ApiDeps,
    'state' | 'logs' | 'config' | 'paths' | 'createAppRepository' | 'destroyApp' | 'publishRoutes' | 'runtime'
  >,
): Router {
  const r = Router();
  const { state } = deps;

  // The role shown is the user's own on the app; an admin without one sees "admin".
  const shownRole = (user: UserRow, app: AppRow) =>
    state.collaborators.roleOf(app.id, user.id) ?? (user.isAdmin ? 'admin' : undefined);
  r.get('/apps', (_req, res) => {
    const { user } = auth(res);
    const apps = user.isAdmin ? state.apps.list() : state.apps.listForUser(user.id);
    res.json(apps.map((a) => appJson(deps, a, shownRole(user, a))));
  });

  r.post('/apps', async (req, res) => {
    const { user } = auth(res);
    const b = body<{ name: string; stack: string }>(req, { name: 'string', stack: 'string' });
    let name = b.name === undefined || b.name === '' ? undefined : assertNewAppName(b.name);
    if (!name) {
      for (let i = 0; i < 20 && (!name || state.apps.get(name)); i++) name = randomAppName();
    }
    const maxApps = limitsOf(state, deps.config, user.id).apps;
    const owned = state.apps.countOwnedBy(user.id);
    if (owned >= maxApps) throw limitError('apps', user.email, owned, maxApps);
    const stack = b.stack ?? deps.config.stack;
    if (!/^[a-z0-9-]{1,40}$/.test(stack))
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(stack)} is not a stack name`, {
        hint: 'see slipway stacks',
      });
    stackInfo(stack); // a stack without a recipe is NOT_FOUND, naming the stacks there are
    const app = state.apps.create({ name: name!, ownerId: user.id, stack });
    try {
      await deps.createAppRepository(deps.paths, app.name);
    } catch (err) {
      state.apps.delete(app.id);
      throw err;
    }
    // A new app never sees an earlier app's log lines, even ones written after that app's destroy.
    deps.logs.forget(app.name);
    record(deps, res, { app, action: 'app.create', message: `App ${app.name} created` });
    // The router learns the new host at once (it answers 503 until the first release serves).
    await deps.publishRoutes();
    res.status(201).json(appJson(deps, app, 'owner'));
  });

  r.get('/apps/:app', async (req, res) => {
    const app = appFor(deps, req, res, 'read');
    const { user } = auth(res);
    const current = app.currentReleaseId ? state.releases.getById(app.currentReleaseId) : undefined;
    const dynos = await deps.runtime.listDynos(app.name);
    res.json({
      ...appJson(deps, app, shownRole(user, app)),
      release: current
        ? { version: current.version, description: current.description, createdAt: current.createdAt }
        : null,
      formation: state.formation.list(app.id),
      dynos: dynos.map((d) => ({ name: d.name, state: d.state, release: d.release })),
      collaborators: state.collaborators.list(app.id).map((c) => ({ email: c.email, role: c.role })),
    });
  });

  r.delete('/apps/:app', async (req, res) => {
    const app = appFor(deps, req, res, 'destroy');
    // Each part removes its own (server/apps/destroy.ts).
    await deps.destroyApp(app.name, auth(res).user.email);
    res.json({ name: app.name, destroyed: true });
  });

  // Maintenance mode: the router answers 503 with the maintenance page (routes.json flag).
  r.get('/apps/:app/maintenance', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json({ maintenance: app.maintenance });
  });
  r.put('/apps/:app/maintenance', async (req, res) => {
    const app = appFor(deps, req, res, 'scale');
    const b = body<{ enabled: boolean }>(req, { enabled: 'boolean' }, ['enabled']);
    state.apps.setMaintenance(app.id, b.enabled!);
    await deps.publishRoutes();
    record(deps, res, {
      app,
      action: 'maintenance',
      message: `Maintenance mode ${b.enabled ? 'enabled' : 'disabled'}`,
    });
    res.json({ maintenance: b.enabled });
  });

  // HTTPS only: the router answers plain HTTP for the app's hosts with a 308 to https://.
  r.get('/apps/:app/https-only', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json({ httpsOnly: app.httpsOnly, hsts: app.hsts });
  });
  r.put('/apps/:app/https-only', async (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ enabled: boolean; hsts: boolean }>(req, { enabled: 'boolean', hsts: 'boolean' }, ['enabled']);
    // HSTS only makes sense with the redirect; turning https-only off turns it off too.
    const hsts = b.enabled! && (b.hsts ?? (b.enabled === app.httpsOnly ? app.hsts : false));
    state.apps.setHttpsOnly(app.id, b.enabled!);
    state.apps.setHsts(app.id, hsts);
    await deps.publishRoutes();
    record(deps, res, {
      app,
      action: 'https-only',
      message: `HTTPS-only ${b.enabled ? 'enabled' : 'disabled'}${hsts ? ' with HSTS' : ''}`,
    });
    res.json({ httpsOnly: b.enabled, hsts });
  });

  // Buildpacks: an ordered list used by the next build (empty: detect from the built-in order).
  // A Heroku name (heroku/nodejs, a heroku-buildpack-* URL) shows which built-in buildpack builds
  // it, and is refused when the target is missing (buildpacks/lifecycle/aliases.ts).
  const listed = (app: AppRow, list: string[]) => {
    const enabled = aliasesEnabled(deps.config.buildpackAliases, state.configVars.all(app.id));
    return list.map((url, i) => {
      const providedBy = checkAlias(url, enabled);
      return { index: i + 1, url, ...(providedBy ? { providedBy } : {}) };
    });
  };
  r.get('/apps/:app/buildpacks', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json(listed(app, app.buildpacks));
  });
  const changeBuildpacks = (
    message: (list: string[]) => string,
    change: (current: string[], b: { buildpack?: string; index?: number; buildpacks?: string[] }) => string[],
  ) => {
    return (req: import('express').Request, res: import('express').Response) => {
      const app = appFor(deps, req, res, 'config');
      const b = body<{ buildpack: string; index: number; buildpacks: string[] }>(req, {
        buildpack: 'string',
        index: 'number',
        buildpacks: 'string[]',
      });
      const next = change(app.buildpacks, b);
      if (next.length > 20) throw new SlipwayError('INVALID_INPUT', 'an app can have at most 20 buildpacks');
      if (new Set(next).size !== next.length)
        throw new SlipwayError('CONFLICT', 'that buildpack is already set', { hint: 'see slipway buildpacks' });
      const list = listed(app, next);
      state.apps.setBuildpacks(app.id, next);
      record(deps, res, { app, action: 'buildpacks', message: message(next), data: { buildpacks: next } });
      res.json(list);
    };
  };
  const indexOf = (b: { index?: number }, len: number) => {
    if (b.index === undefined) return len;
    if (!Number.isInteger(b.index) || b.index < 1 || b.index > len + 1) {
      throw new SlipwayError('INVALID_INPUT', `index must be from 1 to ${len + 1}`);
    }
    return b.index - 1;
  };
  r.put(
    '/apps/:app/buildpacks',
    changeBuildpacks(
      (l) => (l.length ? `Buildpacks set to ${l.join(', ')}` : 'Buildpacks cleared'),
      (_cur, b) => (b.buildpacks ?? (b.buildpack ? [b.buildpack] : [])).map(assertBuildpack),
    ),
  );
  r.post(
    '/apps/:app/buildpacks',
    changeBuildpacks(
      (l) => `Buildpacks set to ${l.join(', ')}`,
      (cur, b) => {
        const ref = assertBuildpack(b.buildpack);
        const next = [...cur];
        next.splice(indexOf(b, cur.length), 0, ref);
        return next;
      },
    ),
  );
  r.delete(
    '/apps/:app/buildpacks',
    changeBuildpacks(
      (l) => (l.length ? `Buildpacks set to ${l.join(', ')}` : 'Buildpacks cleared'),
      (cur, b) => {
        if (b.buildpack === undefined && b.index === undefined) return [];
        const i = b.index !== undefined ? b.index - 1 : cur.indexOf(b.buildpack!);
        if (i < 0 || i >= cur.length)
          throw new SlipwayError('NOT_FOUND', 'that buildpack is not set on the app', {
            hint: 'see slipway buildpacks',
          });
        return cur.filter((_, j) => j !== i);
      },
    ),
  );

  return r;
}
