import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { requireAdmin } from '../auth/permissions';
import { assertAppName } from '../../common/names';
import { appFor, auth, body, record, type ApiDeps } from './context';

/**
 * The runtime and its nodes (docs/scale-out.md "Swarm"). Admins only, except placement (an
 * app's own setting, like ps:type):
 *
 *   GET    /admin/runtime                 → { runtime: docker|swarm, swarm: { state, manager, nodes, ... } }
 *   GET    /nodes                         → [{ id, hostname, role, state, availability, address, tasks, cpus, memoryMb, labels }]
 *   GET    /nodes/join                    → { token, manager, command, install }
 *   POST   /nodes/:node/drain             → the node (its dynos moved first, without failed requests)
 *   POST   /nodes/:node/activate          → the node
 *   DELETE /nodes/:node                   → 204
 *   PUT    /apps/:app/placement/:type     { constraints: ["node.labels.zone==a"] } → { type, constraints }
 */
export function createNodesRoutes(deps: ApiDeps): Router {
  const r = Router();
  const cluster = () => {
    if (deps.config.runtime !== 'swarm' || !deps.cluster) {
      throw new SlipwayError(
        'CONFLICT',
        'this platform runs on one Docker engine (SLIPWAY_RUNTIME=docker): it has no nodes',
        {
          hint: 'to grow past one machine, reinstall with install.sh --runtime swarm (docs/scale-out.md)',
        },
      );
    }
    return deps.cluster;
  };

  r.get('/admin/runtime', async (_req, res) => {
    requireAdmin(auth(res).user, 'see the runtime');
    const swarm = deps.cluster ? await deps.cluster.state() : null;
    res.json({ runtime: deps.config.runtime, swarm });
  });

  r.get('/nodes', async (_req, res) => {
    requireAdmin(auth(res).user, 'list nodes');
    res.json(await cluster().nodes());
  });

  r.get('/nodes/join', async (_req, res) => {
    requireAdmin(auth(res).user, 'add nodes');
    const j = await cluster().join();
    res.json({ ...j, install: `./install.sh --join ${j.token} ${j.manager}` });
  });

  r.post('/nodes/:node/drain', async (req, res) => {
    requireAdmin(auth(res).user, 'drain nodes');
    const node = await cluster().drain(String(req.params.node), async (apps) => {
      for (const a of apps) if (deps.state.apps.get(assertAppName(a))) await deps.runtime.restart(a);
    });
    record(deps, res, { action: 'node-drain', message: `Drained node ${node.hostname || node.id}` });
    res.json(node);
  });

  r.post('/nodes/:node/activate', async (req, res) => {
    requireAdmin(auth(res).user, 'activate nodes');
    res.json(await cluster().activate(String(req.params.node)));
  });

  r.delete('/nodes/:node', async (req, res) => {
    requireAdmin(auth(res).user, 'remove nodes');
    await cluster().remove(String(req.params.node));
    record(deps, res, { action: 'node-remove', message: `Removed node ${String(req.params.node)}` });
    res.status(204).end();
  });

  r.put('/apps/:app/placement/:type', async (req, res) => {
    const app = appFor(deps, req, res, 'scale');
    const { constraints } = body<{ constraints: string[] }>(req, { constraints: 'array' }, ['constraints']);
    const type = String(req.params.type);
    const out = await deps.runtime.setPlacement(app.name, type, constraints ?? []);
    record(deps, res, {
      app,
      action: 'placement',
      message: out.length ? `Placed ${type} on ${out.join(', ')}` : `${type} may run on any node`,
    });
    res.json({ type, constraints: out });
  });
  return r;
}
