import * as fs from 'node:fs';
import * as path from 'node:path';
import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { openImageStore } from '../../buildpacks/oci/layout';
import { ensureStack } from '../../stacks/builder';
import { knownStacks, stackInfo } from '../../stacks/info';
import { requireAdmin } from '../auth/permissions';
import { appFor, auth, body, record, recordAs, type ApiDeps } from './context';
import { createLogger } from '../../common/logger';

const log = createLogger('slipway-server');

/**
 * Stacks: what the store holds (stacks/NAME-KIND:TAG) and which apps use each stack; stacks:update
 * (admins) rebuilds both images with fresh security updates under a new tag (one at a time; it
 * takes a minute or two). Apps pick the new run image up on their next build or rebase.
 */
export function createStacksRoutes(deps: ApiDeps): Router {
  const r = Router();
  let updating: Promise<unknown> | undefined;

  r.get('/stacks', async (_req, res) => {
    auth(res);
    const store = openImageStore(deps.paths.images);
    const tags = (await store.listTags()).filter((t) => t.ref.startsWith('stacks/'));
    const apps = deps.state.apps.list();
    const names = new Set([...knownStacks(), deps.config.stack, ...apps.map((a) => a.stack)]);
    res.json(
      [...names].sort().map((name) => {
        const of = (kind: string) => tags.filter((t) => t.ref.startsWith(`stacks/${name}-${kind}:`));
        const latest = (kind: string) => of(kind).find((t) => t.ref.endsWith(':latest'))?.descriptor.digest ?? null;
        const latestRun = latest('run');
        const versions = of('run').filter((t) => !t.ref.endsWith(':latest')).map((t) => t.ref.split(':')[1]);
        return {
          name,
          default: name === deps.config.stack,
          buildDigest: latest('build'),
          runDigest: latestRun,
          version: of('run').find((t) => !t.ref.endsWith(':latest') && t.descriptor.digest === latestRun)?.ref.split(':')[1] ?? null,
          versions,
          apps: apps.filter((a) => a.stack === name).map((a) => a.name),
        };
      }),
    );
  });

  // stack:set: the next build uses the new stack (built on first use if missing); the running release
  // keeps its image. The app's build cache is dropped: its layers were built for the old stack.
  r.put('/apps/:app/stack', (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ stack: string }>(req, { stack: 'string' }, ['stack']);
    stackInfo(b.stack!);
    if (b.stack !== app.stack) {
      deps.state.apps.setStack(app.id, b.stack!);
      fs.rmSync(path.join(deps.paths.caches, app.name), { recursive: true, force: true });
      record(deps, res, { app, action: 'stack.set', message: `Stack set to ${b.stack} (was ${app.stack})`, data: { stack: b.stack, previous: app.stack } });
    }
    res.json({ name: app.name, stack: b.stack, previous: app.stack });
  });

  r.post('/stacks/update', async (_req, res) => {
    const { user } = auth(res);
    requireAdmin(user, 'update stacks');
    if (!deps.docker) throw new SlipwayError('DOCKER_UNAVAILABLE', 'Docker is not available to this server', { hint: 'see slipway status' });
    if (updating) throw new SlipwayError('CONFLICT', 'a stack update is already running', { hint: 'wait for it to finish, then see slipway stacks' });
    const started = Date.now();
    const work = ensureStack({
      stack: deps.config.stack,
      store: openImageStore(deps.paths.images),
      docker: deps.docker,
      workDir: path.join(deps.paths.stacks, 'work'),
      force: true,
      log: (l) => log.info(`stacks:update: ${l}`),
    });
    updating = work;
    try {
      const images = await work;
      recordAs(deps, user.email, { action: 'stack.update', message: `Stack ${deps.config.stack} rebuilt (${images.run.ref})` });
      res.json({
        name: deps.config.stack,
        build: images.build.ref,
        run: images.run.ref,
        runDigest: images.run.manifestDigest,
        seconds: Math.round((Date.now() - started) / 1000),
      });
    } finally {
      updating = undefined;
    }
  });

  return r;
}
