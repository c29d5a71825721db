import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { requireAdmin } from '../auth/permissions';
import { appFor, auth, body, record, recordAs, type ApiDeps } from './context';

/**
 * Stacks API: GET /stacks (any user), PUT /apps/:app/stack (stack:set), POST /apps/:app/rebase
 * (deployers), POST /stacks/update { rebase }, POST /stacks/:stack/rebase and POST /stacks/check
 * { stack, update, rebase } (admins). The work
 * is the stack service's (server/images/stacks.ts, rebase.ts).
 */
export function createStacksRoutes(deps: Pick<ApiDeps, 'state' | 'logs' | 'stacks'>): Router {
  const r = Router();

  r.get('/stacks', async (_req, res) => {
    auth(res);
    res.json(await deps.stacks.list());
  });

  // stacks:diff: GET /stacks/bookworm/diff?from=OLD&to=NEW (run image versions, see GET /stacks).
  r.get('/stacks/:stack/diff', async (req, res) => {
    auth(res);
    const v = (k: string) => {
      const x = req.query[k];
      if (typeof x !== 'string' || !/^[A-Za-z0-9._-]{1,80}$/.test(x))
        throw new SlipwayError('INVALID_INPUT', `${k}= must name a stack version`, {
          hint: 'usage: slipway stacks:diff OLD NEW [--stack STACK] (versions: slipway stacks)',
        });
      return x;
    };
    res.json(await deps.stacks.diff(String(req.params.stack), v('from'), v('to')));
  });

  r.put('/apps/:app/stack', (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ stack: string }>(req, { stack: 'string' }, ['stack']);
    const { changed, previous } = deps.stacks.setForApp(app, b.stack!);
    if (changed)
      record(deps, res, {
        app,
        action: 'stack.set',
        message: `Stack set to ${b.stack} (was ${previous})`,
        data: { stack: b.stack, previous },
      });
    res.json({ name: app.name, stack: b.stack, previous });
  });

  // releases:rebase: 201 with the new release, 200 { status: 'current' } when there is nothing to do.
  r.post('/apps/:app/rebase', async (req, res) => {
    const app = appFor(deps, req, res, 'deploy');
    const { user } = auth(res);
    const out = await deps.stacks.rebaseApp(app.name, { id: user.id, email: user.email });
    if (out.status === 'needs-rebuild')
      throw new SlipwayError('CONFLICT', out.message, {
        hint: `rebuild it on the current stack: slipway builds:create -a ${app.name} (or git push)`,
      });
    if (out.status === 'failed')
      throw new SlipwayError('DEPLOY_FAILED', `v${out.to} (rebase) was not deployed: ${out.message}`, {
        hint: `v${out.from} keeps serving; see slipway logs -a ${app.name}`,
      });
    if (out.status === 'current') return void res.json(out);
    res.status(201).json({
      status: out.status,
      from: out.from,
      to: out.to,
      description: out.description,
      ms: out.ms,
      platformMs: out.platformMs,
      packages: out.packages,
    });
  });

  // Rebases every app on STACK onto its current run image, without rebuilding the stack.
  r.post('/stacks/:stack/rebase', async (req, res) => {
    const { user } = auth(res);
    requireAdmin(user, 'rebase the apps of a stack');
    const b = body<{ concurrency: number }>(req, { concurrency: 'number' });
    const stack = String(req.params.stack);
    if (!(await deps.stacks.list()).some((s) => s.name === stack))
      throw new SlipwayError('NOT_FOUND', `there is no stack "${stack}"`, { hint: 'see slipway stacks' });
    res.json(
      await deps.stacks.rebaseAll(
        stack,
        { id: user.id, email: user.email },
        b.concurrency ?? deps.stacks.rebaseConcurrency,
      ),
    );
  });

  r.post('/stacks/update', async (req, res) => {
    const { user } = auth(res);
    requireAdmin(user, 'update stacks');
    const b = body<{ rebase: boolean }>(req, { rebase: 'boolean' });
    const result = await deps.stacks.update();
    recordAs(deps, user.email, { action: 'stack.update', message: `Stack ${result.name} rebuilt (${result.run})` });
    const rebase =
      (b.rebase ?? deps.stacks.autoRebase)
        ? await deps.stacks.rebaseAll(result.name, { id: user.id, email: user.email }, deps.stacks.rebaseConcurrency)
        : undefined;
    res.json({ ...result, ...(rebase ? { rebase } : {}) });
  });

  // stacks:check: are there updates on the mirror? { update: true } rebuilds a stack that has
  // some, { rebase: true } (or SLIPWAY_STACK_AUTO_REBASE) then rebases its apps.
  r.post('/stacks/check', async (req, res) => {
    const { user } = auth(res);
    requireAdmin(user, 'check the stacks for updates');
    const b = body<{ stack: string; update: boolean; rebase: boolean }>(req, {
      stack: 'string',
      update: 'boolean',
      rebase: 'boolean',
    });
    if (b.stack !== undefined && !(await deps.stacks.list()).some((s) => s.name === b.stack))
      throw new SlipwayError('NOT_FOUND', `there is no stack "${b.stack}"`, { hint: 'see slipway stacks' });
    const results = await deps.stacks.checkNow({
      stacks: b.stack ? [b.stack] : undefined,
      update: b.update ?? false,
      rebase: b.rebase ?? deps.stacks.autoRebase,
      actor: { id: user.id, email: user.email },
    });
    res.json({ results });
  });

  return r;
}
