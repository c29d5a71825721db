import * as fs from 'node:fs';
import { isValidAppName } from './names';

/**
 * The route table contract, run/routes.json (docs/architecture.md, "Route table"): the one type,
 * the one writer (the server's publisher) and the one parser (the router's watcher, and tests).
 */
export interface RouteBackend {
  dyno: string;
  url: string;
  release: number;
}

export interface AppRouteEntry {
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
  backends: RouteBackend[];
}

export interface CertificateEntry {
  hosts: string[];
  /** Relative to SLIPWAY_HOME. */
  certFile: string;
  keyFile: string;
  expiresAt?: string;
}

export interface RoutesFile {
  version: 1;
  generatedAt: string;
  apps: Record<string, AppRouteEntry>;
  certificates: CertificateEntry[];
}

/** A host name as routes.json may carry it: a DNS name, or "*." and one. */
export const ROUTE_HOST_RE =
  /^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Writes a file atomically: readers see the old or the new content, never a mix. */
export function writeFileAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** The writer: temp file + rename, so the router never reads half a table. */
export function writeRoutesFile(file: string, doc: RoutesFile): void {
  writeFileAtomic(file, `${JSON.stringify(doc, null, 2)}\n`, 0o644);
}

function invalid(what: string): Error {
  return new Error(`routes file: ${what}`);
}

/** The parser: validates a parsed routes.json; throws on anything malformed (the caller keeps the old table). */
export function parseRoutesFile(json: unknown): RoutesFile {
  const doc = json as Partial<RoutesFile> | null;
  if (!doc || typeof doc !== 'object' || doc.version !== 1) throw invalid('missing or unknown "version"');
  if (!doc.apps || typeof doc.apps !== 'object') throw invalid('"apps" must be an object');
  for (const [name, a] of Object.entries(doc.apps)) {
    if (!isValidAppName(name)) throw invalid(`invalid app name ${JSON.stringify(name)}`);
    if (!a || !Array.isArray(a.hosts) || !Array.isArray(a.backends))
      throw invalid(`app ${name}: hosts and backends must be arrays`);
    for (const h of a.hosts)
      if (typeof h !== 'string' || !ROUTE_HOST_RE.test(h))
        throw invalid(`app ${name}: invalid host ${JSON.stringify(h)}`);
    for (const b of a.backends) {
      if (!b || typeof b.url !== 'string' || !/^http:\/\/[^/]+$/.test(b.url.replace(/\/$/, '')))
        throw invalid(`app ${name}: invalid backend url`);
      if (typeof b.dyno !== 'string') throw invalid(`app ${name}: backend without dyno`);
    }
  }
  const certificates = Array.isArray(doc.certificates) ? doc.certificates : [];
  for (const c of certificates) {
    if (!c || !Array.isArray(c.hosts) || typeof c.certFile !== 'string' || typeof c.keyFile !== 'string')
      throw invalid('invalid certificate entry');
  }
  return { version: 1, generatedAt: String(doc.generatedAt ?? ''), apps: doc.apps, certificates };
}
