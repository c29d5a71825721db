import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Router, type Request, type Response } from 'express';
import type Docker from 'dockerode';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import type { ImageStore } from '../../buildpacks/oci/layout';
import { requireAppRole } from '../auth/permissions';
import { limitError, limitsOf, ownerOfApp } from '../auth/limits';
import { createImageBuilder, parseImageRef } from '../deploys/builders/image';
import { pushLines } from '../deploys/events';
import type { DeployInput, DeployPipeline } from '../deploys/pipeline';
import type { State } from '../state';
import type { UserRow } from '../state/repos/users';

/**
 * Deploys that are not a git push, through the same pipeline (docs/dockerfile.md):
 *   POST   /apps/:app/sources                 body: a .tar.gz of the source; streams the push output
 *   POST   /apps/:app/images                  { image: REF }; streams the push output
 *   GET    /apps/:app/registry-credentials    → [{ host }]
 *   PUT    /apps/:app/registry-credentials/:host   { username, password }
 *   DELETE /apps/:app/registry-credentials/:host
 * The streamed output is the push's own lines, then EXIT_MARK + 0|1 as its last line.
 */
export const EXIT_MARK = '\x1eslipway-exit:';

export interface DeploysRoutesDeps {
  state: State;
  paths: HomePaths;
  config: Pick<SlipwayConfig, 'limits'>;
  docker: Docker;
  store: ImageStore;
  builds: Pick<DeployPipeline, 'deploy'>;
}

const HOST_RE = /^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d{1,5})?$/;

export function createDeploysRoutes(deps: DeploysRoutesDeps): Router {
  const r = Router();
  const userOf = (res: Response) => (res.locals.auth as { user: UserRow }).user;
  const appFor = (req: Request, res: Response, action: 'deploy' | 'read' | 'config') =>
    requireAppRole(deps.state, userOf(res), String(req.params.app), action);

  /** Runs one deploy, streaming its push lines; the client going away cancels it (before release). */
  async function stream(
    req: Request,
    res: Response,
    input: Omit<DeployInput, 'onEvent' | 'signal' | 'user'>,
  ): Promise<void> {
    const user = userOf(res);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const outcome = await deps.builds.deploy({
      ...input,
      user: { id: user.id, email: user.email },
      signal: abort.signal,
      onEvent: (e) => {
        if (!res.destroyed) for (const line of pushLines(e)) res.write(`${line}\n`);
      },
    });
    res.end(`${EXIT_MARK}${outcome.error ? 1 : 0}\n`);
  }

  r.post('/apps/:app/sources', async (req, res) => {
    const app = appFor(req, res, 'deploy');
    // The whole upload first (bounded): its digest is the build's source version.
    fs.mkdirSync(deps.paths.builds, { recursive: true });
    const file = path.join(deps.paths.builds, `upload-${randomBytes(6).toString('hex')}.tar.gz`);
    const hash = createHash('sha256');
    let bytes = 0;
    // The same bound as a git push: the app owner's push-mb limit (common/limits.ts).
    const owner = ownerOfApp(deps.state, app.ownerId);
    const mb = limitsOf(deps.state, deps.config, owner.id)['push-mb'];
    const limit = mb * 1024 * 1024;
    try {
      await pipeline(
        req,
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            bytes += chunk.length;
            if (bytes > limit)
              return cb(
                limitError(
                  'push-mb',
                  owner.email,
                  'may upload at most ' + mb + ' MiB at once, and this source is larger',
                  mb,
                  ` (owner of ${app.name})`,
                ),
              );
            hash.update(chunk);
            cb(null, chunk);
          },
        }),
        fs.createWriteStream(file, { mode: 0o600 }),
      );
      if (bytes === 0)
        throw new SlipwayError('INVALID_INPUT', 'no source was uploaded', {
          hint: 'send a .tar.gz of the app directory: slipway deploy DIR',
        });
      const gunzip = createGunzip();
      const source = fs.createReadStream(file).pipe(gunzip);
      gunzip.on('error', () => undefined); // surfaces as tar's own failure
      await stream(req, res, { appName: app.name, sourceVersion: `sha256:${hash.digest('hex')}`, source });
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  r.post('/apps/:app/images', async (req, res) => {
    const app = appFor(req, res, 'deploy');
    const image = parseImageRef((req.body as { image?: unknown } | undefined)?.image);
    const credential = deps.state.registryCredentials.get(app.id, image.host);
    await stream(req, res, {
      appName: app.name,
      sourceVersion: image.ref,
      builder: createImageBuilder(deps, image, credential),
    });
  });

  r.get('/apps/:app/registry-credentials', (req, res) => {
    const app = appFor(req, res, 'read');
    res.json(deps.state.registryCredentials.hosts(app.id).map((host) => ({ host })));
  });

  r.put('/apps/:app/registry-credentials/:host', (req, res) => {
    const app = appFor(req, res, 'config');
    const host = String(req.params.host).toLowerCase();
    const b = (req.body ?? {}) as { username?: unknown; password?: unknown };
    if (!HOST_RE.test(host))
      throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(host.slice(0, 100))} is not a registry host`, {
        hint: 'use HOST or HOST:PORT, like registry.example.com',
      });
    if (
      typeof b.username !== 'string' ||
      !b.username ||
      typeof b.password !== 'string' ||
      !b.password ||
      b.username.length > 500 ||
      b.password.length > 10_000
    ) {
      throw new SlipwayError('INVALID_INPUT', 'give a username and a password (or token)', {
        hint: 'slipway registry:login HOST -a APP',
      });
    }
    deps.state.registryCredentials.set(app.id, host, { username: b.username, password: b.password });
    deps.state.events.add({
      appId: app.id,
      appName: app.name,
      actor: userOf(res).email,
      action: 'registry.login',
      message: `Registry credentials for ${host} set`,
      data: { host },
    });
    res.json({ host });
  });

  r.delete('/apps/:app/registry-credentials/:host', (req, res) => {
    const app = appFor(req, res, 'config');
    const host = String(req.params.host).toLowerCase();
    if (!deps.state.registryCredentials.remove(app.id, host)) {
      throw new SlipwayError('NOT_FOUND', `app "${app.name}" has no credentials for ${host}`, {
        hint: `see: slipway registry -a ${app.name}`,
      });
    }
    res.json({ host });
  });
  return r;
}
