import * as fs from 'node:fs';
import * as path from 'node:path';
import { coalesce } from '../../common/coalesce';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import { writeFileAtomic, writeRoutesFile, type RouteBackend, type RoutesFile } from '../../common/routes-file';
import type { State } from '../state';

/**
 * The server's side of the route table contract (docs/architecture.md, "Route table"): renders
 * apps, their web quantity, healthy web dynos, custom domains and certificates from the state into
 * run/routes.json (temp file + rename, so the router never reads half a file) and the PEM files
 * into run/certs/ (keys 0600). The router picks the new file up within milliseconds.
 *
 * Callers: the runtime after each deploy/scale/dyno change, handing over its healthy web dynos
 * (the data flows one way: the publisher never asks the runtime); the API after domains, certs
 * and maintenance changes, with the backends last handed over. Calls are coalesced: a publish
 * requested while one is running runs once more after it, with the newest state.
 */
export interface RoutesPublisherDeps {
  state: State;
  paths: HomePaths;
  config: SlipwayConfig;
  /** Desired web dynos; default: the formation table's web quantity (0 when none). */
  webQuantity?: (app: string) => number;
  /** Per-app https_only; default false (the state has no column for it yet). */
  httpsOnly?: (app: string) => boolean;
}

/** Healthy web dynos per app, as the runtime reports them. */
export type WebBackendsByApp = ReadonlyMap<string, RouteBackend[]>;

export interface RoutesPublisher {
  /** Writes the table; `web` replaces the backends known so far (the runtime passes it). */
  publish(web?: WebBackendsByApp): Promise<void>;
  /** The document publish() would write (no files touched); for tests and `slipway` diagnostics. */
  render(): Promise<RoutesFile>;
}

/** Only rewrites a PEM whose content changed: the router reloads certificates by mtime. */
function writeIfChanged(file: string, content: string, mode: number): void {
  try {
    if (fs.readFileSync(file, 'utf8') === content) return;
  } catch {
    // missing: write it
  }
  writeFileAtomic(file, content, mode);
}

/** Whether a certificate name (exact, or "*.example.com" for one label) covers a route host. */
function covers(name: string, host: string): boolean {
  if (name === host) return true;
  if (!name.startsWith('*.') || host.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}

export function createRoutesPublisher(deps: RoutesPublisherDeps): RoutesPublisher {
  const { state, paths, config } = deps;
  const webQuantity =
    deps.webQuantity ??
    ((app: string) => {
      const row = state.apps.get(app);
      return row ? (state.formation.get(row.id, 'web')?.quantity ?? 0) : 0;
    });

  let web: WebBackendsByApp = new Map();
  const render = async (): Promise<RoutesFile> => {
    const apps: RoutesFile['apps'] = {};
    const domains = state.domains.list();
    for (const app of state.apps.list()) {
      const hosts = [
        `${app.name}.${config.domain}`,
        ...domains.filter((d) => d.appId === app.id).map((d) => d.hostname),
      ];
      const backends = (web.get(app.name) ?? []).map((b) => ({ dyno: b.dyno, url: b.url, release: b.release }));
      const released = app.currentReleaseId ? state.releases.getById(app.currentReleaseId) : undefined;
      apps[app.name] = {
        hosts,
        maintenance: app.maintenance,
        httpsOnly: deps.httpsOnly?.(app.name) ?? false,
        // Only written when on, so route files of apps without HSTS stay as they were.
        ...(app.hsts ? { hsts: true } : {}),
        // Only written when false: the router then says "not deployed yet" / "no web process"
        // instead of H10 "crashed" or "scale web" (issue 14).
        ...(released || backends.length ? {} : { released: false as const }),
        ...(released && !Object.hasOwn(released.processTypes, 'web') ? { web: false as const } : {}),
        webQuantity: webQuantity(app.name),
        backends,
      };
    }
    // An app's certificate is served only for that app's own hosts: uploading a certificate for
    // someone else's domain must not take over (or break) TLS for it. Platform certificates
    // (no app) are served for every name they carry.
    const hostsById = new Map(state.apps.list().map((a) => [a.id, apps[a.name]?.hosts ?? []]));
    // Automatic (ACME) certificates first: the router keeps the last entry for a host, so a
    // certificate uploaded with certs:add wins over the automatic one for the same name.
    const certificates = state.certificates
      .list()
      .sort((a, b) => Number(b.source === 'acme') - Number(a.source === 'acme'))
      .map((c) => ({
        hosts:
          c.appId === null
            ? c.hostnames
            : (hostsById.get(c.appId) ?? []).filter((h) => c.hostnames.some((n) => covers(n, h))),
        certFile: path.relative(paths.home, path.join(paths.certsDir, `${c.id}.crt`)),
        keyFile: path.relative(paths.home, path.join(paths.certsDir, `${c.id}.key`)),
        expiresAt: c.expiresAt,
      }))
      .filter((c) => c.hosts.length > 0);
    return { version: 1, generatedAt: new Date().toISOString(), apps, certificates };
  };

  const publishOnce = async () => {
    const doc = await render();
    fs.mkdirSync(paths.certsDir, { recursive: true });
    const keep = new Set<string>();
    for (const c of state.certificates.list()) {
      writeIfChanged(path.join(paths.certsDir, `${c.id}.crt`), c.certPem, 0o644);
      writeIfChanged(path.join(paths.certsDir, `${c.id}.key`), state.certificates.keyPem(c.id), 0o600);
      keep.add(`${c.id}.crt`).add(`${c.id}.key`);
    }
    // Routes first, then remove PEMs of deleted certificates: the router never points at a missing file.
    writeRoutesFile(paths.routesFile, doc);
    for (const f of fs.readdirSync(paths.certsDir)) {
      if (/^\d+\.(crt|key)$/.test(f) && !keep.has(f)) fs.rmSync(path.join(paths.certsDir, f), { force: true });
    }
  };

  // Coalesced: a publish asked for while one runs runs once more after it, with the newest state.
  const publishCoalesced = coalesce(publishOnce);
  const publish = (next?: WebBackendsByApp): Promise<void> => {
    if (next) web = next;
    return publishCoalesced();
  };

  return { publish, render };
}
