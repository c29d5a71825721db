import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import type { BuildSettings } from '../state/repos/apps';
import { appFor, body, record, type ApiDeps } from './context';

/**
 * How an app builds (docs/dockerfile.md):
 *
 *   GET /apps/:app/builder   → { builder: "auto"|"dockerfile"|"buildpacks", dockerfilePath, buildArgs, lastBuilder }
 *   PUT /apps/:app/builder   { builder?: "auto"|"dockerfile"|"buildpacks", dockerfilePath?: string|null, buildArgs?: string[], addBuildArgs?: string[] }
 */
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PATH_RE = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._\/-]{1,200}$/;

export function createBuilderRoutes(deps: ApiDeps): Router {
  const r = Router();
  const shown = (appId: number, s: BuildSettings) => {
    const last = deps.state.releases.latestWithImage(appId);
    return {
      builder: s.builder ?? 'auto',
      dockerfilePath: s.dockerfilePath ?? null,
      buildArgs: s.buildArgs ?? [],
      lastBuilder: last ? (last.runSpec ? 'dockerfile' : 'buildpacks') : null,
    };
  };

  r.get('/apps/:app/builder', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    res.json(shown(app.id, app.buildSettings));
  });

  r.put('/apps/:app/builder', (req, res) => {
    const app = appFor(deps, req, res, 'config');
    const b = body<{ builder: string; dockerfilePath: string | null; buildArgs: string[]; addBuildArgs: string[] }>(
      req,
      {
        builder: 'string',
        dockerfilePath: 'string',
        buildArgs: 'string[]',
        addBuildArgs: 'string[]',
      },
    );
    const next: BuildSettings = { ...app.buildSettings };
    if (b.builder !== undefined) {
      if (!['auto', 'dockerfile', 'buildpacks'].includes(b.builder)) {
        throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(b.builder.slice(0, 40))} is not a builder`, {
          hint: 'use dockerfile, buildpacks or auto',
        });
      }
      if (b.builder === 'auto') delete next.builder;
      else next.builder = b.builder as 'dockerfile' | 'buildpacks';
    }
    if (b.dockerfilePath !== undefined) {
      if (b.dockerfilePath === null || b.dockerfilePath === '') delete next.dockerfilePath;
      else if (!PATH_RE.test(b.dockerfilePath)) {
        throw new SlipwayError(
          'INVALID_INPUT',
          `${JSON.stringify(b.dockerfilePath.slice(0, 100))} is not a path inside the repository`,
          { hint: 'use a relative path such as docker/Dockerfile' },
        );
      } else next.dockerfilePath = b.dockerfilePath;
    }
    for (const list of [b.buildArgs, b.addBuildArgs]) {
      for (const k of list ?? [])
        if (!KEY_RE.test(k))
          throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(k.slice(0, 60))} is not a config var name`);
    }
    if (b.buildArgs !== undefined) next.buildArgs = [...new Set(b.buildArgs)];
    if (b.addBuildArgs) next.buildArgs = [...new Set([...(next.buildArgs ?? []), ...b.addBuildArgs])];
    if (next.buildArgs && next.buildArgs.length > 100)
      throw new SlipwayError('INVALID_INPUT', 'at most 100 build args');
    deps.state.apps.setBuildSettings(app.id, next);
    record(deps, res, {
      app,
      action: 'builder',
      message: `Build settings: builder ${next.builder ?? 'auto'}${next.dockerfilePath ? `, ${next.dockerfilePath}` : ''}${next.buildArgs?.length ? `, build args ${next.buildArgs.join(', ')}` : ''}`,
    });
    res.json(shown(app.id, next));
  });
  return r;
}
