import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { createLogger } from '../common/logger';

const logger = createLogger('slipway-router');

/**
 * ACME HTTP-01 responder (docs/tls.md). The server lists pending challenges in
 * run/acme-challenges.json ({ version: 1, challenges: { host: { token: keyAuthorization } } },
 * written by temp file + rename); the router watches it like routes.json and answers
 * GET/HEAD /.well-known/acme-challenge/TOKEN for a listed host with the key authorization, before
 * app lookup, maintenance mode and https-only redirects (the CA validates over plain HTTP, and an
 * app that is down or in maintenance must still get its certificate). Anything else under that
 * path falls through to the app as before, so hosts without a pending order are not affected.
 */
const PREFIX = '/.well-known/acme-challenge/';
const TOKEN_RE = /^[A-Za-z0-9_-]{1,256}$/;

type Challenges = Map<string, Map<string, string>>;

function load(file: string): Challenges {
  const out: Challenges = new Map();
  if (!fs.existsSync(file)) return out;
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    version?: number;
    challenges?: Record<string, Record<string, unknown>>;
  };
  if (doc?.version !== 1 || !doc.challenges || typeof doc.challenges !== 'object')
    throw new Error('missing or unknown "version"');
  for (const [host, tokens] of Object.entries(doc.challenges)) {
    const m = new Map<string, string>();
    for (const [token, keyAuth] of Object.entries(tokens ?? {})) {
      if (TOKEN_RE.test(token) && typeof keyAuth === 'string') m.set(token, keyAuth);
    }
    if (m.size) out.set(host.toLowerCase(), m);
  }
  return out;
}

export interface AcmeResponder {
  /** Answers the request if it is a pending challenge for this host; returns whether it did. */
  answer(req: http.IncomingMessage, res: http.ServerResponse, hostname: string): boolean;
  close(): void;
}

export function createAcmeResponder(file: string, pollMs = 500): AcmeResponder {
  let challenges: Challenges = new Map();
  let stamp = '';
  const reload = () => {
    let now = 'missing';
    try {
      const st = fs.statSync(file);
      now = `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      // no file: no challenges
    }
    if (now === stamp) return;
    stamp = now;
    try {
      challenges = load(file);
    } catch (err) {
      logger.error(`kept the previous ACME challenges, ${path.basename(file)} is invalid: ${(err as Error).message}`);
    }
  };
  reload();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const watcher = fs.watch(path.dirname(file), (_event, name) => {
    if (name === null || name === path.basename(file)) reload();
  });
  watcher.on('error', (err) => logger.error(`watching ${file}: ${err.message}`));
  const poll = setInterval(reload, pollMs);
  poll.unref();

  return {
    answer(req, res, hostname) {
      if (challenges.size === 0 || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      const url = req.url ?? '';
      if (!url.startsWith(PREFIX)) return false;
      const keyAuth = challenges.get(hostname)?.get(url.slice(PREFIX.length));
      if (keyAuth === undefined) return false;
      res.writeHead(200, {
        'Content-Type': 'text/plain',
        'Content-Length': Buffer.byteLength(keyAuth),
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : keyAuth);
      return true;
    },
    close() {
      watcher.close();
      clearInterval(poll);
    },
  };
}

/** HSTS for apps with `https-only:on --hsts`: one year, added to HTTPS responses unless the app set its own. */
export const HSTS_VALUE = 'max-age=31536000';
export function addHsts(headers: string[]): void {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === 'strict-transport-security') return;
  headers.push('Strict-Transport-Security', HSTS_VALUE);
}
