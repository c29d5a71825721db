import type { ServerResponse } from 'node:http';

/**
 * The router's own responses: small branded pages that say what happened and carry the request id,
 * so a user can quote it and an operator can find the matching access-log line.
 */
export interface RouterError {
  status: number;
  /** Heroku error code for the access log (H10, H12, ...), or undefined for plain 404s. */
  code?: string;
  desc: string;
  title: string;
  detail: string;
}

export const ERRORS = {
  noSuchApp: {
    status: 404,
    desc: 'No such app',
    title: 'No such app',
    detail: 'There is no app at this address. Check the host name, or add it with: slipway domains:add',
  },
  notDeployed: {
    status: 503,
    desc: 'Nothing deployed yet',
    title: 'Nothing here yet',
    detail: 'This app has not been deployed yet. Its owner can deploy it with: git push slipway main',
  },
  noWebProcess: {
    status: 503,
    code: 'H14',
    desc: 'No web process type',
    title: 'Application unavailable',
    detail: 'This app runs no web process (its Procfile declares none), so it does not answer HTTP.',
  },
  noWebDynos: {
    status: 503,
    code: 'H14',
    desc: 'No web processes running',
    title: 'Application unavailable',
    detail: 'This app has no web dynos running. Its owner can start one with: slipway ps:scale web=1',
  },
  appCrashed: {
    status: 503,
    code: 'H10',
    desc: 'App crashed',
    title: 'Application error',
    detail: 'No web dyno of this app is accepting connections. Its owner can check: slipway logs',
  },
  maintenance: {
    status: 503,
    code: 'H80',
    desc: 'Maintenance mode',
    title: 'Offline for maintenance',
    detail: 'This app is in maintenance mode. Please try again later.',
  },
  timeout: {
    status: 503,
    code: 'H12',
    desc: 'Request timeout',
    title: 'Application error',
    detail: 'The app did not start its response in time. Its owner can check: slipway logs',
  },
  closed: {
    status: 502,
    code: 'H13',
    desc: 'Connection closed without response',
    title: 'Application error',
    detail: 'The app closed the connection without answering. Its owner can check: slipway logs',
  },
  badRequest: {
    status: 400,
    desc: 'Bad request',
    title: 'Bad request',
    detail: 'The request was malformed (more than one Host header, or a request target the router does not accept).',
  },
  badResponse: {
    status: 502,
    code: 'H17',
    desc: 'Poorly formatted HTTP response',
    title: 'Application error',
    detail: 'The app sent a response the router could not forward. Its owner can check: slipway logs',
  },
} satisfies Record<string, RouterError>;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderPage(err: RouterError, requestId: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(err.title)} · Slipway</title>
<style>body{font:16px/1.5 system-ui,sans-serif;color:#223;max-width:36em;margin:12vh auto;padding:0 1em}
h1{font-size:1.4em}small{color:#778}</style></head>
<body><h1>${escapeHtml(err.title)}</h1><p>${escapeHtml(err.detail)}</p>
<p><small>${err.code ? `${err.code} · ` : ''}request id ${escapeHtml(requestId)} · slipway router</small></p></body></html>
`;
}

/** Writes an error page; returns the body size for the access log. */
export function sendPage(res: ServerResponse, err: RouterError, requestId: string, extra: string[] = []): number {
  const body = Buffer.from(renderPage(err, requestId));
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  res.writeHead(err.status, [
    'Content-Type',
    'text/html; charset=utf-8',
    'Content-Length',
    String(body.length),
    'Cache-Control',
    'no-cache, no-store',
    'X-Request-Id',
    requestId,
    'Via',
    '1.1 slipway',
    ...extra,
  ]);
  res.end(res.req.method === 'HEAD' ? undefined : body);
  return body.length;
}
