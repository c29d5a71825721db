import express, { type NextFunction, type Request, type Response } from 'express';
import type Docker from 'dockerode';
import type { SlipwayConfig, HomePaths } from '../common/config';
import { httpStatusFor, isSlipwayError } from '../common/errors';
import { VERSION } from '../common/version';
import type { State } from './state';
import type { LogHub } from './logs/hub';
import { createApiRouter, type ApiDeps } from './api';
import { createRunUpgradeHandler } from './api/run';
import { createSessionRegistry } from './api/sessions';
import { createAddonShellUpgrade, SHELL_PATH } from './api/addons-shell';
import type { ImageStore } from '../buildpacks/oci/layout';
import { createRegistryRouter } from './images/registry';
import { createDashboardRouter } from './dashboard/static';
import { createLogger } from '../common/logger';

const logger = createLogger('slipway-server');

export interface ServerDeps {
  config: SlipwayConfig;
  paths: HomePaths;
  state: State;
  docker: Docker;
  /** The log hub (server/logs/hub.ts): every app-facing log line goes through it. */
  logs: LogHub;
  /** The one image store of the process (the registry serves it). */
  store: ImageStore;
  /** Services the API calls (runtime, releases, routes publisher, repositories, builds routes, destroyApp). */
  api: Omit<ApiDeps, 'config' | 'paths' | 'state' | 'logs' | 'docker'>;
  /** The git endpoint (server/git): smart HTTP for /APP.git paths, before any body parsing. */
  git?: { isGitRequest(req: Request): boolean; handle(req: Request, res: Response): void };
  /** The registry's credential (images/registry-auth.ts), made once at startup by main.ts. */
  registryToken: string;
}

/**
 * The server's HTTP surface: health, the REST API (/api), the git endpoint (/APP.git) and the
 * read-only registry (/v2/). Route modules receive their dependencies as arguments.
 */
export function createHttpApp(deps: ServerDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: 'slipway-server', version: VERSION, pid: process.pid });
  });

  // Git first: its request bodies are packs for git itself, never JSON for express.
  const git = deps.git;
  if (git)
    app.use((req: Request, res: Response, next: NextFunction) =>
      git.isGitRequest(req) ? git.handle(req, res) : next(),
    );

  // One session registry for the API's log sessions and attached runs: revoking or disabling ends both.
  const apiDeps: ApiDeps = {
    ...deps.api,
    config: deps.config,
    paths: deps.paths,
    state: deps.state,
    logs: deps.logs,
    docker: deps.docker,
    sessions: deps.api?.sessions ?? createSessionRegistry(),
  };
  app.use('/api', createApiRouter(apiDeps));
  // Read-only registry over the image store at /v2/, for the local dockerd (loopback clients with
  // the registry token only).
  app.use(createRegistryRouter({ store: deps.store, token: deps.registryToken }));
  // HTTP upgrades never reach express: main.ts attaches this to the server's 'upgrade' event (slipway run).
  const runUpgrade = createRunUpgradeHandler(apiDeps);
  const shellUpgrade = createAddonShellUpgrade(apiDeps);
  app.locals.onUpgrade = (
    req: import('node:http').IncomingMessage,
    socket: import('node:stream').Duplex,
    head: Buffer,
  ) =>
    SHELL_PATH.test(new URL(req.url ?? '/', 'http://x').pathname)
      ? shellUpgrade(req, socket, head)
      : runUpgrade(req, socket, head);
  // The web dashboard (docs/dashboard.md): static pages at / that call the same /api as the CLI.
  app.use(createDashboardRouter());

  // JSON errors with real statuses: { id, message, hint }. Never an error inside a 200.
  app.use((req: Request, res: Response) => {
    res.status(404).json({
      id: 'not_found',
      message: `no route for ${req.method} ${req.path}`,
      hint: 'see `slipway help` for the API the CLI uses',
    });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (isSlipwayError(err)) {
      res.status(httpStatusFor(err.code)).json(err.toJSON());
      return;
    }
    logger.error(`unexpected error: ${(err as Error)?.stack ?? String(err)}`);
    res
      .status(500)
      .json({ id: 'internal', message: 'internal server error', hint: 'see the server log under SLIPWAY_HOME/log' });
  });
  return app;
}
