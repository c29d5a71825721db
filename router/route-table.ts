import { isValidAppName } from '../common/names';

/**
 * The route table: the parsed form of run/routes.json (docs/architecture.md, "Route table").
 * Lookup is by exact host name; a wildcard entry "*.example.com" matches exactly one more label
 * ("a.example.com", not "example.com" nor "a.b.example.com"), and only when it was added as such.
 * Never substring or prefix matching (http-proxy-middleware CVE-2026-55602).
 */
export interface BackendEntry {
  dyno: string;
  url: string;
  release: number;
}

export interface AppRoute {
  app: string;
  hosts: string[];
  maintenance: boolean;
  httpsOnly: boolean;
  /** Strict-Transport-Security on HTTPS responses (optional in the file; absent means off). */
  hsts?: boolean;
  /** false (written only then): the app has never been released, so nothing can answer yet. */
  released?: boolean;
  /** false (written only then): the current release has no web process type (a worker-only app). */
  web?: boolean;
  webQuantity: number;
  backends: BackendEntry[];
}

export interface CertificateEntry {
  hosts: string[];
  certFile: string;
  keyFile: string;
  expiresAt?: string;
}

export interface RoutesFile {
  version: 1;
  generatedAt: string;
  apps: Record<string, Omit<AppRoute, 'app'>>;
  certificates: CertificateEntry[];
}

export interface RouteTable {
  generatedAt: string;
  apps: Map<string, AppRoute>;
  certificates: CertificateEntry[];
  lookup(host: string): AppRoute | undefined;
}

const HOST_RE = /^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

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

function invalid(what: string): Error {
  return new Error(`routes file: ${what}`);
}

/** Validates a parsed routes.json; throws on anything malformed (the caller keeps the old table). */
export function parseRoutesFile(json: unknown): RoutesFile {
  const doc = json as Partial<RoutesFile> | null;
  if (!doc || typeof doc !== 'object' || doc.version !== 1) throw invalid('missing or unknown "version"');
  if (!doc.apps || typeof doc.apps !== 'object') throw invalid('"apps" must be an object');
  for (const [name, a] of Object.entries(doc.apps)) {
    if (!isValidAppName(name)) throw invalid(`invalid app name ${JSON.stringify(name)}`);
    if (!a || !Array.isArray(a.hosts) || !Array.isArray(a.backends)) throw invalid(`app ${name}: hosts and backends must be arrays`);
    for (const h of a.hosts) if (typeof h !== 'string' || !HOST_RE.test(h)) throw invalid(`app ${name}: invalid host ${JSON.stringify(h)}`);
    for (const b of a.backends) {
      if (!b || typeof b.url !== 'string' || !/^http:\/\/[^/]+$/.test(b.url.replace(/\/$/, ''))) throw invalid(`app ${name}: invalid backend url`);
      if (typeof b.dyno !== 'string') throw invalid(`app ${name}: backend without dyno`);
    }
  }
  const certificates = Array.isArray(doc.certificates) ? doc.certificates : [];
  for (const c of certificates) {
    if (!c || !Array.isArray(c.hosts) || typeof c.certFile !== 'string' || typeof c.keyFile !== 'string') throw invalid('invalid certificate entry');
  }
  return { version: 1, generatedAt: String(doc.generatedAt ?? ''), apps: doc.apps, certificates };
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
      backends: a.backends.map((b) => ({ dyno: b.dyno, url: b.url.replace(/\/$/, ''), release: Number(b.release) || 0 })),
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
