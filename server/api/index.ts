import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { SlipwayError } from '../../common/errors';
import { authenticateToken } from '../auth/permissions';
import type { ApiDeps } from './context';
import { createSessionRegistry } from './sessions';
import { createAccessRoutes } from './access';
import { createUsersRoutes } from './users';
import { createAppsRoutes } from './apps';
import { createBuilderRoutes } from './builder';
import { createConfigRoutes } from './config';
import { createEventsRoutes } from './events';
import { createLogsRoutes } from './logs';
import { createPsRoutes } from './ps';
import { createReleasesRoutes } from './releases';
import { createDomainsRoutes } from './domains';
import { createCertsAutoRoutes } from './certs-auto';
import { createStatusRoutes } from './status';
import { createStacksRoutes } from './stacks';
import { createGitSettingsRoutes } from './git-settings';
import { createAddonsRoutes } from './addons';
import { createMetricsRoutes } from './metrics';
import { createAppsSummaryRoutes } from './apps-summary';
import { createWebSessions } from './web-session';
import { createBootTimeoutRoutes } from './boot-timeout';
import { createNodesRoutes } from './nodes';

import { tokenFromAuthorization } from '../auth/authorization';

export type { ApiDeps } from './context';

/** The bearer secret of a request: `Authorization: Bearer slw_...` (or Basic with the token as password, like git). */
export function bearerToken(req: Request): string | undefined {
  return tokenFromAuthorization(req.headers.authorization);
}

/**
 * The REST API, mounted at /api by server/http-app.ts. Thin routes: authenticate (every request,
 * so a revoked token fails at once), validate at the edge, call one service, answer JSON with a
 * real status. Errors are SlipwayErrors, rendered by http-app's handler as { id, message, hint }.
 */
export function createApiRouter(input: ApiDeps): Router {
  const deps: ApiDeps = { ...input, sessions: input.sessions ?? createSessionRegistry() };
  const api = Router();
  api.use(express.json({ limit: '1mb' }));
  // Dashboard sign-in is the one route without a credential; browsers then send the session cookie.
  const web = createWebSessions(deps);
  api.use(web.publicRoutes);
  api.use((req: Request, res: Response, next: NextFunction) => {
    const secret = bearerToken(req);
    if (!secret) {
      const session = web.authenticate(req, res);
      if (session) {
        res.locals.auth = session;
        return next();
      }
    }
    const address = req.socket.remoteAddress;
    if (secret) {
      try {
        deps.authBackoff.check(address, secret);
      } catch (err) {
        res.setHeader('Retry-After', String((err as SlipwayError).details?.retryAfterS ?? 60));
        throw err;
      }
    }
    const a = authenticateToken(deps.state, secret);
    if (!a) {
      if (secret) deps.authBackoff.fail(address, secret);
      res.setHeader('WWW-Authenticate', 'Bearer realm="slipway"');
      throw new SlipwayError(
        'UNAUTHORIZED',
        secret ? 'this API token is not valid (unknown or revoked)' : 'no API token given',
        {
          hint: 'log in with: slipway login --api URL --token TOKEN (an admin can make you a token)',
        },
      );
    }
    res.locals.auth = a;
    next();
  });
  api.use(createAccessRoutes(deps));
  api.use(createUsersRoutes(deps));
  api.use(createAppsSummaryRoutes(deps));
  api.use(createAppsRoutes(deps));
  api.use(createConfigRoutes(deps));
  api.use(createEventsRoutes(deps));
  api.use(createLogsRoutes(deps));
  api.use(createPsRoutes(deps));
  api.use(createBootTimeoutRoutes(deps));
  api.use(createNodesRoutes(deps));
  api.use(createReleasesRoutes(deps));
  api.use(createCertsAutoRoutes(deps));
  api.use(createDomainsRoutes(deps));
  api.use(createStatusRoutes(deps));
  api.use(createStacksRoutes(deps));
  api.use(createGitSettingsRoutes(deps));
  api.use(createAddonsRoutes(deps));
  api.use(createMetricsRoutes(deps));
  api.use(web.routes);
  api.use(createBuilderRoutes(deps));
  api.use(deps.buildsRoutes);
  api.use(deps.deploysRoutes);

  api.use((req: Request) => {
    throw new SlipwayError('NOT_FOUND', `no API route for ${req.method} ${req.baseUrl}${req.path}`, {
      hint: 'see docs/api.md for the routes',
    });
  });
  // body-parser's errors (malformed JSON, too large) become SlipwayErrors with a real status.
  api.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e && typeof e === 'object' && typeof e.type === 'string' && e.type.startsWith('entity.')) {
      return next(
        new SlipwayError(
          'INVALID_INPUT',
          e.type === 'entity.too.large'
            ? 'the request body is larger than 1 MB'
            : `the request body is not valid JSON: ${e.message}`,
          {
            hint: 'send a JSON object with Content-Type: application/json',
          },
        ),
      );
    }
    next(err);
  });
  return api;
}
