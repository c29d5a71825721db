import {
  ROUTE_HOST_RE as HOST_RE,
  type AppRouteEntry,
  type CertificateEntry,
  type RouteBackend,
  type RoutesFile,
} from '../common/routes-file';

export { parseRoutesFile } from '../common/routes-file';

/**
 * The route table: the parsed form of run/routes.json (docs/architecture.md, "Route table").
 * Lookup is by exact host name; a wildcard entry "*.example.com" matches exactly one more label
 * ("a.example.com", not "example.com" nor "a.b.example.com"), and only when it was added as such.
 * Never substring or prefix matching (http-proxy-middleware CVE-2026-55602).
 */
export type BackendEntry = RouteBackend;
export type { CertificateEntry, RoutesFile };

export interface AppRoute extends AppRouteEntry {
  app: string;
}

export interface RouteTable {
  generatedAt: string;
  apps: Map<string, AppRoute>;
  certificates: CertificateEntry[];
  lookup(host: string): AppRoute | undefined;
}

/**
 * Normalises a Host header to the name we match on: lowercased, port and one trailing dot removed.
 * Returns '' for anything that is not a plain DNS name (IP literals and garbage never match).
 */
export function normalizeHost(raw: string | undefined): string {
  if (!raw) return '';
  let host = raw.toLowerCase();
  if (host.startsWith('[')) return '';
  const colon = host.indexOf(':');
  if (colon !== -1) {
    const port = host.slice(colon + 1);
    if (!/^\d{1,5}$/.test(port)) return '';
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253 || host.startsWith('*') || !HOST_RE.test(host)) return '';
  return host;
}

export function buildRouteTable(file: RoutesFile): RouteTable {
  const apps = new Map<string, AppRoute>();
  const exact = new Map<string, AppRoute>();
  const wildcard = new Map<string, AppRoute>(); // key: the suffix after "*."
  for (const [app, a] of Object.entries(file.apps)) {
    const route: AppRoute = {
      app,
      hosts: a.hosts.map((h) => h.toLowerCase()),
      maintenance: a.maintenance === true,
      httpsOnly: a.httpsOnly === true,
      hsts: a.hsts === true,
      released: a.released !== false,
      web: a.web !== false,
      webQuantity: Number.isInteger(a.webQuantity) ? a.webQuantity : a.backends.length,
      backends: a.backends.map((b) => ({
        dyno: b.dyno,
        url: b.url.replace(/\/$/, ''),
        release: Number(b.release) || 0,
      })),
    };
    apps.set(app, route);
    for (const h of route.hosts) {
      // First writer wins: the server keeps hosts unique, so a clash means a hand-edited file.
      if (h.startsWith('*.')) {
        if (!wildcard.has(h.slice(2))) wildcard.set(h.slice(2), route);
      } else if (!exact.has(h)) exact.set(h, route);
    }
  }
  return {
    generatedAt: file.generatedAt,
    apps,
    certificates: file.certificates,
    lookup(host) {
      const hit = exact.get(host);
      if (hit) return hit;
      const dot = host.indexOf('.');
      return dot > 0 ? wildcard.get(host.slice(dot + 1)) : undefined;
    },
  };
}

export const EMPTY_TABLE: RouteTable = buildRouteTable({ version: 1, generatedAt: '', apps: {}, certificates: [] });
