import * as fs from 'node:fs';
import { Router, type Request, type Response } from 'express';
import { SlipwayError } from '../../common/errors';
import { tokenFromAuthorization } from '../auth/authorization';
import { authenticateToken, requireAppRole, type AppAction } from '../auth/permissions';
import type { DeployPipeline } from '../deploys/pipeline';
import { commitLabel } from '../deploys/commit-label';
import type { State } from '../state';
import type { AppRow } from '../state/repos/apps';
import type { BuildRow } from '../state/repos/builds';
import type { UserRow } from '../state/repos/users';

/**
 * Builds API (mounted under /api by server/api/index.ts, behind its token check):
 *   GET  /apps/:app/builds                 newest first (`slipway builds`)
 *   GET  /apps/:app/builds/:id             one build; :id may be "latest"
 *   GET  /apps/:app/builds/:id/output      text/plain log; a running build streams until it ends
 *   GET  /apps/:app/builds/:id/events      the build's progress as data (DeployEvents, server/deploys/events.ts)
 *   POST /apps/:app/builds/:id/cancel      cancels a pending or running build (deploy rights)
 */
export interface BuildsRoutesDeps {
  state: State;
  builds: Pick<DeployPipeline, 'liveLog' | 'cancel' | 'events'>;
  /** POST /apps/:app/builds: rebuild the deploy branch's commit (server/git/rebuild.ts). */
  rebuild: (appName: string, user: { id: number; email: string }) => Promise<BuildRow>;
  /** DELETE /apps/:app/build-cache (server/builds/cache.ts). */
  purgeCache: (appName: string) => Promise<{ bytes: number }>;
}

export function createBuildsRoutes(deps: BuildsRoutesDeps): Router {
  const r = Router();

  function userOf(req: Request, res: Response): UserRow {
    const a = res.locals.auth as { user: UserRow } | undefined;
    if (a) return a.user;
    // Mounted on its own (tests, other hosts): check the bearer token here.
    const found = authenticateToken(deps.state, tokenFromAuthorization(req.headers.authorization, ['bearer']));
    if (!found)
      throw new SlipwayError('UNAUTHORIZED', 'no valid API token given', {
        hint: 'log in with: slipway login --api URL --token TOKEN',
      });
    return found.user;
  }

  function appFor(req: Request, res: Response, action: AppAction): AppRow {
    return requireAppRole(deps.state, userOf(req, res), String(req.params.app), action);
  }

  function buildFor(app: AppRow, id: string): BuildRow {
    let b = id === 'latest' || id === 'current' ? deps.state.builds.latestForApp(app.id) : deps.state.builds.get(id);
    // A unique prefix of a build id (as `slipway builds` shows them) names that build.
    if (!b && id !== 'latest' && id !== 'current' && /^[0-9a-f-]{4,}$/i.test(id)) {
      const found = deps.state.builds.findByPrefix(app.id, id.toLowerCase(), 5);
      if (found.length > 1) {
        throw new SlipwayError(
          'CONFLICT',
          `${id} names ${found.length === 5 ? 'several' : found.length} builds of ${app.name}: ${found.map((x) => x.id.slice(0, 12)).join(', ')}`,
          {
            hint: 'give more characters of the build id',
          },
        );
      }
      b = found[0];
    }
    if (!b || b.appId !== app.id) {
      throw new SlipwayError(
        'NOT_FOUND',
        id === 'latest' || id === 'current'
          ? `app "${app.name}" has no builds yet`
          : `build ${id} of app "${app.name}" does not exist`,
        {
          hint:
            id === 'latest' ? `deploy with: git push slipway main` : `list builds with: slipway builds -a ${app.name}`,
        },
      );
    }
    return b;
  }

  const view = (b: BuildRow) => ({
    id: b.id,
    app: b.appName,
    status: b.status,
    sourceVersion: b.sourceVersion,
    subject: b.sourceSubject,
    commit: b.sourceVersion ? commitLabel(b.sourceVersion, b.sourceSubject) : null,
    user: b.userEmail,
    buildpacks: b.buildpacks,
    buildpacksFrom: b.buildpacksFrom,
    imageDigest: b.imageDigest,
    phaseTimings: b.phaseTimings,
    release: b.releaseVersion,
    error: b.error,
    createdAt: b.createdAt,
    startedAt: b.startedAt,
    finishedAt: b.finishedAt,
  });

  r.get('/apps/:app/builds', (req, res) => {
    const app = appFor(req, res, 'read');
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 500);
    res.json(deps.state.builds.listForApp(app.id, limit).map(view));
  });

  // Rebuild without a new commit: 201 with the build as soon as it is recorded; follow
  // /builds/:id/output for its log and poll /builds/:id for the outcome.
  r.post('/apps/:app/builds', async (req, res) => {
    const app = appFor(req, res, 'deploy');
    const user = userOf(req, res);
    const b = await deps.rebuild(app.name, { id: user.id, email: user.email });
    res.status(201).json(view(b));
  });

  r.delete('/apps/:app/build-cache', async (req, res) => {
    const app = appFor(req, res, 'deploy');
    res.json(await deps.purgeCache(app.name));
  });

  r.get('/apps/:app/builds/:id', (req, res) => {
    const app = appFor(req, res, 'read');
    res.json(view(buildFor(app, String(req.params.id))));
  });

  r.get('/apps/:app/builds/:id/output', (req, res) => {
    const app = appFor(req, res, 'read');
    const b = buildFor(app, String(req.params.id));
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('x-slipway-build-status', b.status);
    const live = deps.builds.liveLog(b.id);
    const file = b.logPath;
    if (!file || !fs.existsSync(file)) {
      res.end(live ? '' : '(this build left no log)\n');
      return;
    }
    if (!live) {
      fs.createReadStream(file).pipe(res);
      return;
    }
    // Subscribe first, then send the file up to the offset the subscription started at: no line
    // is lost or repeated between the two.
    const pending: string[] = [];
    let caughtUp = false;
    let ended = false;
    const finish = () => {
      if (!res.writableEnded) res.end();
    };
    const sub = live.follow(
      (line) => (caughtUp ? res.write(`${line}\n`) : pending.push(line)),
      () => {
        ended = true;
        if (caughtUp) finish();
      },
    );
    res.on('close', () => sub.stop());
    const head = fs.createReadStream(file, { start: 0, end: Math.max(0, sub.bytes - 1) });
    if (sub.bytes === 0) head.destroy();
    head.on('data', (chunk) => res.write(chunk));
    const catchUp = () => {
      for (const line of pending.splice(0)) res.write(`${line}\n`);
      caughtUp = true;
      if (ended) finish();
    };
    head.on('close', catchUp);
  });

  r.get('/apps/:app/builds/:id/events', (req, res) => {
    const app = appFor(req, res, 'read');
    res.json(deps.builds.events(buildFor(app, String(req.params.id)).id));
  });

  r.post('/apps/:app/builds/:id/cancel', (req, res) => {
    const app = appFor(req, res, 'deploy');
    const b = buildFor(app, String(req.params.id));
    if (b.status !== 'pending' && b.status !== 'running') {
      throw new SlipwayError('CONFLICT', `build ${b.id} already ${b.status}`, {
        hint: 'only a pending or running build can be cancelled',
      });
    }
    if (!deps.builds.cancel(b.id, userOf(req, res).email)) {
      throw new SlipwayError('CONFLICT', `build ${b.id} is releasing and can no longer be cancelled`, {
        hint: 'wait for it to finish, then roll back with `slipway releases:rollback` if needed',
      });
    }
    res.status(202).json({ ...view(b), status: 'cancelling' });
  });

  return r;
}
