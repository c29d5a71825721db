import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { assertConfigKey, assertProcessType } from '../../common/names';
import { SIZES } from '../runtime/sizes';
import { checkFormation, oneOffLimits } from '../auth/limits';
import { appFor, body, record, type ApiDeps } from './context';

/** Formation (ps, ps:scale, ps:type), dynos (ps, ps:restart) and detached one-off dynos (run:detached). */
export function createPsRoutes(deps: Pick<ApiDeps, 'state' | 'logs' | 'runtime' | 'config'>): Router {
  const r = Router();
  const runtime = () => deps.runtime;

  r.get('/apps/:app/formation', async (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json(deps.state.formation.list(app.id));
  });

  // PATCH { updates: [{ type: "web", quantity: 2, size: "standard-2x" }] }
  r.patch('/apps/:app/formation', async (req, res) => {
    const app = appFor(deps, req, res, 'scale');
    const b = body<{ updates: unknown[] }>(req, { updates: 'array' }, ['updates']);
    const updates = b.updates;
    if (!Array.isArray(updates) || updates.length === 0 || updates.length > 50) {
      throw new SlipwayError('INVALID_INPUT', 'updates must be a non-empty list like [{"type":"web","quantity":2}]');
    }
    const quantities: Record<string, number> = {};
    const sizes: Record<string, string> = {};
    for (const u of updates as Array<Record<string, unknown>>) {
      if (typeof u !== 'object' || u === null)
        throw new SlipwayError('INVALID_INPUT', 'each update is an object with type and quantity and/or size');
      for (const k of Object.keys(u)) {
        if (!['type', 'quantity', 'size'].includes(k))
          throw new SlipwayError('INVALID_INPUT', `unknown field "${k}" in a formation update`, {
            hint: 'allowed: type, quantity, size',
          });
      }
      const type = assertProcessType(u.type);
      if (u.quantity !== undefined) {
        if (!Number.isInteger(u.quantity) || (u.quantity as number) < 0 || (u.quantity as number) > 100) {
          throw new SlipwayError('INVALID_INPUT', `quantity for ${type} must be a whole number from 0 to 100`);
        }
        quantities[type] = u.quantity as number;
      }
      if (u.size !== undefined) {
        if (typeof u.size !== 'string' || !Object.hasOwn(SIZES, u.size.toLowerCase())) {
          throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(u.size)} is not a dyno size`, {
            hint: `use one of ${Object.keys(SIZES).join(', ')}`,
          });
        }
        sizes[type] = u.size.toLowerCase();
      }
      if (u.quantity === undefined && u.size === undefined)
        throw new SlipwayError('INVALID_INPUT', `give a quantity or a size for ${type}`);
    }
    checkFormation(deps.state, deps.config, app, quantities);
    const rt = runtime();
    for (const [type, size] of Object.entries(sizes)) await rt.setSize(app.name, type, size);
    if (Object.keys(quantities).length) await rt.scale(app.name, quantities);
    const desc = [
      ...Object.entries(quantities).map(([t, q]) => `${t}@${q}${sizes[t] ? `:${sizes[t]}` : ''}`),
      ...Object.entries(sizes)
        .filter(([t]) => !(t in quantities))
        .map(([t, s]) => `${t}:${s}`),
    ].join(', ');
    record(deps, res, { app, action: 'formation.update', message: `Scaled to ${desc}`, data: { quantities, sizes } });
    res.json(deps.state.formation.list(app.id));
  });

  r.get('/apps/:app/dynos', async (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json(await runtime().listDynos(app.name));
  });

  r.post('/apps/:app/dynos/restart', async (req, res) => {
    const app = appFor(deps, req, res, 'scale');
    const b = body<{ target: string }>(req, { target: 'string' });
    if (b.target !== undefined && !/^[A-Za-z0-9_-]{1,63}(\.[0-9]{1,4})?$/.test(b.target)) {
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(b.target)} is not a process type or dyno`, {
        hint: 'use web or web.1',
      });
    }
    await runtime().restart(app.name, b.target);
    record(deps, res, { app, action: 'dyno.restart', message: `Restarted ${b.target ?? 'all dynos'}` });
    res.json({ restarted: b.target ?? 'all' });
  });

  // Detached one-off dyno: output goes to the app's log stream (run.N).
  r.post('/apps/:app/dynos', async (req, res) => {
    const app = appFor(deps, req, res, 'run');
    const b = body<{ command: string; size: string; env: Record<string, string> }>(
      req,
      { command: 'string', size: 'string', env: 'object' },
      ['command'],
    );
    const env = b.env ? assertEnv(b.env) : undefined;
    const dyno = await runtime().runDetached({
      appName: app.name,
      command: b.command!,
      size: b.size,
      env,
      limits: oneOffLimits(deps.state, deps.config, app),
    });
    record(deps, res, {
      app,
      action: 'dyno.run',
      message: `Starting process with command \`${b.command!.slice(0, 200)}\` (${dyno.dyno})`,
    });
    res.status(201).json({ name: dyno.dyno, containerId: dyno.containerId, command: b.command });
  });

  return r;
}

/** Extra env for a one-off dyno: config-var-shaped keys, string values. */
export function assertEnv(env: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    assertConfigKey(k);
    if (typeof v !== 'string') throw new SlipwayError('INVALID_INPUT', `env ${k} must be a string`);
    out[k] = v;
  }
  return out;
}
