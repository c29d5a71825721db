import type { AcmeConfig } from '../../common/config';
import type { State } from '../state';
import type { AcmeDomainRow } from '../state/repos/acme';
import type { AcmeIssuer } from './issuer';
import { coalesce } from '../../common/coalesce';
import { createLogger } from '../../common/logger';

const logger = createLogger('slipway-server');

/**
 * Automatic certificates, one per custom domain (docs/tls.md). sync() decides which domains are
 * tracked (custom, non-wildcard domains of apps with certs:auto on, when ACME is configured); the
 * worker then orders what is due, one order at a time:
 *   - pending/failed domains whose next attempt time has come,
 *   - issued certificates within SLIPWAY_ACME_RENEW_BEFORE_DAYS of expiry.
 * A failed order sets that domain's next attempt with exponential back-off (SLIPWAY_ACME_RETRY_BASE_S
 * doubling up to SLIPWAY_ACME_RETRY_MAX_S, or later if the CA's rate-limit message names a time)
 * and the worker moves on, so one failing domain never blocks the others. Checks run at start,
 * every SLIPWAY_ACME_CHECK_INTERVAL_S (daily), and whenever a domain's next attempt is due.
 */
export interface AcmeManager {
  readonly configured: boolean;
  start(): void;
  stop(): void;
  /** Re-reads domains and apps (after domains:add/remove, certs:auto:*) and runs due work soon. */
  kick(): void;
  /** Orders new certificates for every tracked domain of the app now (certs:auto:refresh). */
  refresh(appId: number): void;
  /** Certificates that will expire without a renewal in sight (for `slipway status`). */
  expiring(): ExpiringCertificate[];
}

export interface ExpiringCertificate {
  app: string | null;
  hosts: string[];
  expiresAt: string;
  source: 'upload' | 'acme';
  reason: string;
}

export interface AcmeManagerDeps {
  state: State;
  config: AcmeConfig | null;
  issuer: AcmeIssuer | null;
  publishRoutes: () => Promise<void>;
  /** Audit event (shown by `slipway events`) and app log line. */
  event: (e: {
    appId: number;
    appName: string;
    action: string;
    message: string;
    data?: Record<string, unknown>;
  }) => void;
}

const DAY_MS = 24 * 3600 * 1000;
/** Uploaded certificates are not renewed by us: they show in status this long before expiry. */
const UPLOAD_WARN_MS = 30 * DAY_MS;

/** The later of back-off and a "retry after <time>" in the CA's rate-limit message (Let's Encrypt's format). */
export function nextAttempt(config: AcmeConfig, failures: number, error: string, now: number): Date {
  const backoff = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** Math.min(failures, 30));
  let at = now + backoff;
  const m = /retry after (\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)/i.exec(error);
  if (m) {
    const t = Date.parse(`${m[1]!.replace(' ', 'T')}Z`);
    if (Number.isFinite(t) && t > at) at = t;
  }
  return new Date(at);
}

export function createAcmeManager(deps: AcmeManagerDeps): AcmeManager {
  const { state, config } = deps;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  /** Domains certs:auto:refresh asked to re-order now, renewal window or not. */
  const forced = new Set<number>();

  const renewBeforeMs = () => (config?.renewBeforeDays ?? 30) * DAY_MS;

  const isDue = (row: AcmeDomainRow, now: number): boolean => {
    if (row.nextAttemptAt && Date.parse(row.nextAttemptAt) > now) return false;
    if (row.status !== 'issued' || !row.expiresAt) return true;
    return Date.parse(row.expiresAt) - now <= renewBeforeMs();
  };

  /** Tracks/untracks domains; deletes ACME certificates nothing points at. Returns whether routes changed. */
  const sync = (): boolean => {
    for (const app of state.apps.list()) {
      const tracked = new Set(state.acme.listForApp(app.id).map((r) => r.domainId));
      if (app.acmeAuto && config) {
        // Wildcards need DNS-01: upload those (docs/tls.md).
        for (const d of state.domains.listForApp(app.id))
          if (!d.hostname.startsWith('*.') && !tracked.has(d.id)) state.acme.track(d.id);
      } else if (!app.acmeAuto) {
        for (const id of tracked) state.acme.untrack(id);
      }
    }
    const orphans = state.acme.orphanCertificateIds();
    for (const id of orphans) state.acme.deleteCertificate(id);
    return orphans.length > 0;
  };

  const orderOne = async (row: AcmeDomainRow): Promise<void> => {
    const renewal = row.certificateId !== null;
    logger.info(`acme: ordering a certificate for ${row.hostname} (${renewal ? 'renewal' : 'new'})`);
    try {
      const issued = await deps.issuer!.issue(row.hostname);
      const now = state.acme.get(row.domainId);
      if (!now) return; // domain removed or auto turned off meanwhile
      const existing = now.certificateId !== null ? state.certificates.get(now.certificateId) : undefined;
      const cert = existing
        ? state.certificates.replace(existing.id, issued.certPem, issued.keyPem)
        : state.certificates.add({ appId: row.appId, certPem: issued.certPem, keyPem: issued.keyPem, source: 'acme' });
      state.acme.markIssued(row.domainId, cert.id);
      await deps.publishRoutes();
      deps.event({
        appId: row.appId,
        appName: row.appName,
        action: renewal ? 'cert.acme.renew' : 'cert.acme.issue',
        message: `Certificate for ${row.hostname} ${renewal ? 'renewed' : 'issued'} (expires ${cert.expiresAt})`,
        data: { hostname: row.hostname, certificateId: cert.id, expiresAt: cert.expiresAt },
      });
    } catch (err) {
      const reason = (err as Error).message || String(err);
      if (!state.acme.get(row.domainId)) return;
      const at = nextAttempt(config!, row.failures, reason, Date.now());
      state.acme.markFailed(row.domainId, reason, at);
      logger.error(`acme: ${row.hostname}: ${reason} (next attempt ${at.toISOString()})`);
      deps.event({
        appId: row.appId,
        appName: row.appName,
        action: renewal ? 'cert.acme.renew-failed' : 'cert.acme.failed',
        message: renewal
          ? `Certificate for ${row.hostname} expires ${row.expiresAt} and could not be renewed: ${reason} (next attempt ${at.toISOString()})`
          : `Certificate for ${row.hostname} could not be issued: ${reason} (next attempt ${at.toISOString()})`,
        data: { hostname: row.hostname, reason, nextAttemptAt: at.toISOString() },
      });
    }
  };

  const schedule = () => {
    if (stopped) return;
    clearTimeout(timer);
    const now = Date.now();
    let wait = config?.checkIntervalMs ?? DAY_MS;
    for (const row of state.acme.list()) {
      // Only future attempts: a past one was either just run or belongs to a certificate not yet due.
      const left = row.nextAttemptAt ? Date.parse(row.nextAttemptAt) - now : 0;
      if (left > 0) wait = Math.min(wait, left);
    }
    // setTimeout's limit is ~24.8 days; the daily check is below it.
    timer = setTimeout(() => void work(), Math.max(1000, Math.min(wait, 2 ** 31 - 1)));
    timer.unref();
  };

  const runOnce = async () => {
    if (sync()) await deps.publishRoutes();
    if (!config || !deps.issuer) return;
    const now = Date.now();
    for (const row of state.acme.list()) {
      if (stopped) return;
      const force = forced.delete(row.domainId);
      if (force || isDue(row, now)) await orderOne(row);
    }
  };

  // One check at a time; a kick during a check asks for one more pass after it (until stopped).
  const work = coalesce(runOnce, {
    repeatWhile: () => !stopped,
    onSettled: (err) => {
      if (err) logger.error(`acme: check failed: ${(err as Error).stack ?? err}`);
      schedule();
    },
  });

  return {
    configured: config !== null,
    start() {
      stopped = false;
      void work();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    kick() {
      if (stopped) {
        sync();
        return;
      }
      setImmediate(() => void work());
    },
    refresh(appId) {
      // An issued certificate is not due before its renewal window; refresh orders it anyway.
      for (const row of state.acme.listForApp(appId)) {
        state.acme.dueNow(row.domainId);
        forced.add(row.domainId);
      }
      this.kick();
    },
    expiring() {
      const now = Date.now();
      const out: ExpiringCertificate[] = [];
      const byCert = new Map(
        state.acme
          .list()
          .filter((r) => r.certificateId !== null)
          .map((r) => [r.certificateId!, r]),
      );
      const apps = new Map(state.apps.list().map((a) => [a.id, a.name]));
      for (const c of state.certificates.list()) {
        const left = Date.parse(c.expiresAt) - now;
        const row = byCert.get(c.id);
        if (c.source === 'acme' && row) {
          if (left <= renewBeforeMs() && (row.error || !config)) {
            out.push({
              app: row.appName,
              hosts: c.hostnames,
              expiresAt: c.expiresAt,
              source: 'acme',
              reason: row.error ? `renewal failed: ${row.error}` : 'ACME is not configured',
            });
          }
        } else if (left <= UPLOAD_WARN_MS) {
          out.push({
            app: c.appId === null ? null : (apps.get(c.appId) ?? null),
            hosts: c.hostnames,
            expiresAt: c.expiresAt,
            source: c.source,
            reason: 'uploaded: renew it and certs:add the new one',
          });
        }
      }
      return out;
    },
  };
}
