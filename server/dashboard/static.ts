import * as fs from 'node:fs';
import * as path from 'node:path';
import { Router, type Request, type Response } from 'express';

/** Where `npm run build` (scripts/build-dashboard.mjs) writes the dashboard: dist/dashboard. */
export const DASHBOARD_DIR = path.join(__dirname, '..', '..', 'dashboard');

// Paths the single-page app answers (its URL state); everything else is left to the other routes.
const PAGE_RE = /^\/(?:login|apps(?:\/[a-z0-9-]{1,63}(?:\/[a-z]{1,20})?)?|admin(?:\/[a-z]{1,20})?)?\/?$/;
const ASSET_RE = /^\/assets\/([A-Za-z0-9_.-]{1,100})$/;
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/**
 * The web dashboard's static files at / of the API listener (HTTP and HTTPS). Asset names carry a
 * content hash, so they are cached for a year (immutable); the HTML page is revalidated every
 * time, so a server upgrade is picked up at the next load. The page is locked down by CSP: only
 * its own scripts, no framing, API calls to this origin only.
 */
export function createDashboardRouter(dir = DASHBOARD_DIR): Router {
  const r = Router();
  let index: Buffer | null = null;
  const page = (): Buffer | null => {
    if (!index) {
      try {
        index = fs.readFileSync(path.join(dir, 'index.html'));
      } catch {
        return null;
      }
    }
    return index;
  };
  const security = (res: Response) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
  };
  r.get(/^\/assets\/.+$/, (req: Request, res: Response, next) => {
    const m = ASSET_RE.exec(req.path);
    const file = m && path.join(dir, 'assets', m[1]);
    if (!file || !fs.existsSync(file)) return next();
    security(res);
    res.setHeader('Content-Type', TYPES[path.extname(file)] ?? 'application/octet-stream');
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    fs.createReadStream(file).pipe(res);
  });
  r.get(PAGE_RE, (req: Request, res: Response, next) => {
    const html = page();
    if (!html) return next();
    security(res);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.end(html);
  });
  return r;
}
