import { Router, type Request, type Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { SlipwayError } from '../../common/errors';
import { authenticateToken } from '../auth/permissions';
import { createWebSessionsRepo } from '../state/repos/web-sessions';
import { auth, body, type ApiDeps, type Auth } from './context';

export const SESSION_COOKIE = 'slipway_session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

const isHttps = (req: Request) => Boolean((req.socket as { encrypted?: boolean }).encrypted);

/**
 * A browser request must come from the dashboard's own origin: when the browser says where it
 * comes from (Origin, Sec-Fetch-Site), that must be this listener. SameSite=Strict already keeps
 * the cookie off cross-site requests; this refuses them even if a browser got that wrong.
 */
function assertSameOrigin(req: Request): void {
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers.origin;
  const own = `${isHttps(req) ? 'https' : 'http'}://${req.headers.host}`;
  if ((site && site !== 'same-origin' && site !== 'none') || (origin && origin !== own)) {
    throw new SlipwayError('FORBIDDEN', 'cross-origin request refused', {
      hint: 'use the dashboard at its own address, or the API with a bearer token',
    });
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Dashboard sign-in (docs/dashboard.md): a one-time code from `slipway dashboard` or an API token
 * is exchanged for a session cookie (HttpOnly, SameSite=Strict, Secure on HTTPS). The browser then
 * calls the same REST API as the CLI with that cookie; a change (any method but GET/HEAD) must
 * also carry the session's CSRF token in X-CSRF-Token and come from the same origin. A session
 * acts as the API token it was made from, so roles and revocation are exactly the token's.
 */
export function createWebSessions(deps: ApiDeps) {
  const repo = createWebSessionsRepo(deps.state.db);
  const ttl = deps.config.dashboard.sessionTtlMs;

  function setCookie(req: Request, res: Response, value: string, maxAgeS: number): void {
    res.setHeader(
      'Set-Cookie',
      `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${isHttps(req) ? '; Secure' : ''}`,
    );
  }

  /** Public: POST /session { code } | { token } signs in. */
  const publicRoutes = Router();
  publicRoutes.post('/session', (req, res) => {
    assertSameOrigin(req);
    const b = body<{ code: string; token: string }>(req, { code: 'string', token: 'string' });
    const secret = b.code ?? b.token ?? '';
    const address = req.socket.remoteAddress;
    if (!secret)
      throw new SlipwayError('INVALID_INPUT', 'send a one-time code or an API token', {
        hint: 'run `slipway dashboard` for a sign-in link',
      });
    deps.authBackoff?.check(address, secret);
    const tokenId = b.code !== undefined ? repo.consumeCode(b.code) : authenticateToken(deps.state, b.token)?.tokenId;
    if (tokenId === undefined) {
      deps.authBackoff?.fail(address, secret);
      throw new SlipwayError(
        'UNAUTHORIZED',
        b.code !== undefined
          ? 'this sign-in link is not valid (used, expired or unknown)'
          : 'this API token is not valid (unknown or revoked)',
        {
          hint: 'run `slipway dashboard` for a new link (it works once, for 5 minutes)',
        },
      );
    }
    const s = repo.create(tokenId, ttl);
    const session = repo.get(s.secret)!;
    setCookie(req, res, s.secret, Math.floor(ttl / 1000));
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({
      email: session.user.email,
      admin: session.user.isAdmin,
      csrfToken: s.csrf,
      expiresAt: new Date(s.expiresAt).toISOString(),
    });
  });

  /** Behind authentication: the session itself, logout, and one-time links for `slipway dashboard`. */
  const routes = Router();
  routes.get('/session', (req, res) => {
    const s = res.locals.webSession as { csrf: string; expiresAt: number } | undefined;
    const { user } = auth(res);
    if (!s)
      throw new SlipwayError('NOT_FOUND', 'this request was not made with a dashboard session', {
        hint: 'sign in at the dashboard first',
      });
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      email: user.email,
      admin: user.isAdmin,
      csrfToken: s.csrf,
      expiresAt: new Date(s.expiresAt).toISOString(),
    });
  });
  routes.delete('/session', (req, res) => {
    const secret = cookieOf(req, SESSION_COOKIE);
    if (secret) repo.remove(secret);
    setCookie(req, res, '', 0);
    res.status(204).end();
  });
  routes.post('/dashboard/links', (req, res) => {
    body(req, {});
    const { tokenId } = auth(res);
    const { code, expiresAt } = repo.createCode(tokenId, deps.config.dashboard.loginLinkTtlMs);
    res.setHeader('Cache-Control', 'no-store');
    // The code rides in the fragment: browsers never send it to a server or in a Referer.
    res.status(201).json({ path: `/login#code=${code}`, expiresAt: new Date(expiresAt).toISOString() });
  });

  /**
   * The Auth of a request carrying the session cookie (and no bearer token), or undefined when it
   * has none. Throws UNAUTHORIZED for a dead session, FORBIDDEN for a change without the CSRF token
   * or from another origin.
   */
  function authenticate(req: Request, res: Response): Auth | undefined {
    const secret = cookieOf(req, SESSION_COOKIE);
    if (!secret) return undefined;
    assertSameOrigin(req);
    const s = repo.get(secret);
    if (!s) {
      setCookie(req, res, '', 0);
      throw new SlipwayError('UNAUTHORIZED', 'your dashboard session has ended', {
        hint: 'sign in again (slipway dashboard prints a link)',
      });
    }
    if (!SAFE_METHODS.has(req.method)) {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameSecret(sent, s.csrf)) {
        throw new SlipwayError('FORBIDDEN', 'missing or wrong CSRF token', {
          hint: 'changes from the dashboard send the X-CSRF-Token header its session gave it',
        });
      }
    }
    res.locals.webSession = s;
    return { user: s.user, tokenId: s.tokenId };
  }

  return { publicRoutes, routes, authenticate };
}
