import type { Request, Response } from 'express';
import type Docker from 'dockerode';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import { SlipwayError } from '../../common/errors';
import type { State } from '../state';
import type { UserRow } from '../state/repos/users';
import type { AppRow } from '../state/repos/apps';
import type { LogHub } from '../logs/hub';
import { requireAppRole, type AppAction } from '../auth/permissions';
import type { Runtime } from '../runtime';
import type { ReleaseService } from '../releases';

/**
 * What the API needs from the services written beside it, all required (server/main.ts wires
 * them); a route module takes the part it uses (`Pick<ApiDeps, ...>`) where it has been narrowed.
 */
export interface ApiUser {
  id: number;
  email: string;
}

export type RuntimeApi = Runtime;
export type ReleasesApi = ReleaseService;

export interface ApiDeps {
  config: SlipwayConfig;
  paths: HomePaths;
  state: State;
  logs: LogHub;
  docker: Docker;
  runtime: RuntimeApi;
  releases: ReleasesApi;
  /** server/routes/publish.ts: rewrites run/routes.json after domains/certs/maintenance changes. */
  publishRoutes: () => Promise<void>;
  createAppRepository: (paths: HomePaths, appName: string) => Promise<void>;
  /** Config vars: validation, change, config release (server/apps/config-vars.ts). */
  configVars: import('../apps/config-vars').ConfigVarsService;
  /** Stack images: list and stacks:update (server/images/stacks.ts). */
  stacks: import('../images/stacks').StackService;
  /** apps:destroy: every part removes its own (server/apps/destroy.ts). */
  destroyApp: (appName: string, actor: string) => Promise<void>;
  /** Mounted at /api (server/api/builds.ts, the git/builds engineer's router). */
  buildsRoutes: import('express').Router;
  /** Mounted at /api: tarball sources, image deploys, registry credentials (server/api/deploys.ts). */
  deploysRoutes: import('express').Router;
  /** Open log sessions by token (created by createApiRouter when not given). */
  sessions?: import('./sessions').SessionRegistry;
  /** Automatic certificates (server/acme/manager.ts); absent in API-only tests. */
  acme: import('../acme/manager').AcmeManager;
  /** URL of the router's health endpoint (default http://127.0.0.1:HTTP_PORT/healthz). */
  routerHealthUrl?: string;
  /** Back-off on failed authentication (server/auth/backoff.ts), shared with the git endpoint. */
  authBackoff: import('../auth/backoff').AuthBackoff;
  /** PostgreSQL / Redis add-ons (server/addons/); absent in API-only tests. */
  addons?: import('../addons').Addons;
  /** Offboarding: cancels a user's running builds (server/deploys/pipeline.ts); returns how many. */
  cancelBuildsOf?: (userId: number, by: string) => number;
  /** The swarm (SLIPWAY_RUNTIME=swarm): nodes, join tokens, drain (server/runtime/swarm/cluster.ts). */
  cluster?: import('../runtime/swarm/cluster').Cluster;
  /** App metrics (server/metrics/); absent when collection is off. */
  metrics?: import('../metrics').Metrics;
}

export interface Auth {
  user: UserRow;
  tokenId: number;
}

export function auth(res: Response): Auth {
  const a = res.locals.auth as Auth | undefined;
  if (!a)
    throw new SlipwayError('UNAUTHORIZED', 'not logged in', { hint: 'run: slipway login --api URL --token TOKEN' });
  return a;
}

/** The app named in the path, if the caller may perform `action` on it. */
export function appFor(deps: Pick<ApiDeps, 'state'>, req: Request, res: Response, action: AppAction): AppRow {
  return requireAppRole(deps.state, auth(res).user, String(req.params.app), action);
}

/**
 * Records a change: an audit event (`slipway events`) and an `app[api]` line in the app's log
 * stream ("Scaled to web@2 by ana@example.com"). Messages never contain config values.
 */
export function record(
  deps: Pick<ApiDeps, 'state' | 'logs'>,
  res: Response,
  e: { app?: AppRow | null; appName?: string; action: string; message: string; data?: Record<string, unknown> },
): void {
  recordAs(deps, auth(res).user.email, e);
}

export function recordAs(
  deps: Pick<ApiDeps, 'state' | 'logs'>,
  actor: string,
  e: { app?: AppRow | null; appName?: string; action: string; message: string; data?: Record<string, unknown> },
): void {
  const appName = e.app?.name ?? e.appName ?? null;
  deps.state.events.add({
    appId: e.app?.id ?? null,
    appName,
    actor,
    action: e.action,
    message: e.message,
    data: e.data,
  });
  if (appName) deps.logs.write(appName, { source: 'api', dyno: 'api', line: `${e.message} by ${actor}` });
}

type FieldType = 'string' | 'number' | 'boolean' | 'string[]' | 'object' | 'array';

/**
 * Validates a JSON body at the edge: an object whose keys are all known and typed as declared.
 * Unknown keys are refused (422), so a request can never set a server-derived field (owner, id,
 * created_at...) by smuggling it in.
 */
export function body<T extends Record<string, unknown>>(
  req: Request,
  fields: Record<string, FieldType>,
  required: string[] = [],
): Partial<T> {
  const b: unknown = req.body ?? {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    throw new SlipwayError('INVALID_INPUT', 'the request body must be a JSON object', {
      hint: `send Content-Type: application/json with fields ${Object.keys(fields).join(', ')}`,
    });
  }
  for (const [k, v] of Object.entries(b)) {
    const t = fields[k];
    if (!t) {
      throw new SlipwayError('INVALID_INPUT', `unknown field "${k}"`, {
        hint: `allowed fields: ${Object.keys(fields).join(', ') || 'none'}`,
      });
    }
    const ok =
      v === undefined ||
      (t === 'string[]'
        ? Array.isArray(v) && v.every((x) => typeof x === 'string')
        : t === 'array'
          ? Array.isArray(v)
          : t === 'object'
            ? typeof v === 'object' && v !== null && !Array.isArray(v)
            : typeof v === t);
    if (!ok)
      throw new SlipwayError(
        'INVALID_INPUT',
        `field "${k}" must be ${t === 'string[]' ? 'an array of strings' : t === 'array' ? 'an array' : t === 'object' ? 'an object' : `a ${t}`}`,
      );
  }
  for (const k of required) {
    if ((b as Record<string, unknown>)[k] === undefined)
      throw new SlipwayError('INVALID_INPUT', `field "${k}" is required`);
  }
  return b as Partial<T>;
}

export function intParam(raw: unknown, name: string, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SlipwayError('INVALID_INPUT', `${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

export function appUrl(config: SlipwayConfig, appName: string): string {
  const port = config.httpPort === 80 ? '' : `:${config.httpPort}`;
  return `http://${appName}.${config.domain}${port}/`;
}

export function gitUrl(config: SlipwayConfig, appName: string): string {
  const host = config.bindHost === '0.0.0.0' || config.bindHost === '::' ? '127.0.0.1' : config.bindHost;
  return `http://${host}:${config.apiPort}/${appName}.git`;
}
