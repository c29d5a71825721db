import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HomePaths, SlipwayConfig } from '../../common/config';
import type { State } from '../state';

/**
 * The server's side of the route table contract (docs/architecture.md, "Route table"): renders
 * apps, their web quantity, healthy web dynos, custom domains and certificates from the state into
 * run/routes.json (temp file + rename, so the router never reads half a file) and the PEM files
 * into run/certs/ (keys 0600). The router picks the new file up within milliseconds.
 *
 * Callers: the runtime after each deploy/scale/dyno change, the API after domains, certs and
 * maintenance changes. Calls are coalesced: a publish requested while one is running runs once
 * more after it, with the newest state.
 */
export interface WebBackendLike {
  dyno: string;
  url: string;
  release: number;
}

export interface RoutesPublisherDeps {
  state: State;
  paths: HomePaths;
  config: SlipwayConfig;
  listWebBackends: (app: string) => Promise<WebBackendLike[]> | WebBackendLike[];
  /** Desired web dynos; default: the formation table's web quantity (0 when none). */
  webQuantity?: (app: string) => number;
  /** Per-app https_only; default false (the state has no column for it yet). */
  httpsOnly?: (app: string) => boolean;
}

export interface RoutesDocument {
  version: 1;
  generatedAt: string;
  apps: Record<string, { hosts: string[]; maintenance: boolean; httpsOnly: boolean; hsts?: boolean; released?: false; web?: false; webQuantity: number; backends: WebBackendLike[] }>;
  certificates: Array<{ hosts: string[]; certFile: string; keyFile: string; expiresAt: string }>;
}

export interface RoutesPublisher {
  publish(): Promise<void>;
  /** The document publish() would write (no files touched); for tests and `slipway` diagnostics. */
  render(): Promise<RoutesDocument>;
}

/** Writes a file atomically: readers see the old or the new content, never a mix. */
function writeAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** Only rewrites a PEM whose content changed: the router reloads certificates by mtime. */
function writeIfChanged(file: string, content: string, mode: number): void {
  try {
    if (fs.readFileSync(file, 'utf8') === content) return;
  } catch {
    // missing: write it
  }
  writeAtomic(file, content, mode);
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

  const render = async (): Promise<RoutesDocument> => {
    const apps: RoutesDocument['apps'] = {};
    const domains = state.domains.list();
    for (const app of state.apps.list()) {
      const hosts = [`${app.name}.${config.domain}`, ...domains.filter((d) => d.appId === app.id).map((d) => d.hostname)];
      const backends = (await deps.listWebBackends(app.name)).map((b) => ({ dyno: b.dyno, url: b.url, release: b.release }));
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
        hosts: c.appId === null ? c.hostnames : (hostsById.get(c.appId) ?? []).filter((h) => c.hostnames.some((n) => covers(n, h))),
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
    writeAtomic(paths.routesFile, `${JSON.stringify(doc, null, 2)}\n`, 0o644);
    for (const f of fs.readdirSync(paths.certsDir)) {
      if (/^\d+\.(crt|key)$/.test(f) && !keep.has(f)) fs.rmSync(path.join(paths.certsDir, f), { force: true });
    }
  };

  let running: Promise<void> | undefined;
  let again = false;
  const publish = async (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await publishOnce();
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  return { publish, render };
}
