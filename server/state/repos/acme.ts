import type { Db } from '../db';
import type { Sealer } from '../crypto';

/**
 * Automatic certificates (docs/tls.md): the platform's ACME account (one per directory URL, key
 * sealed at rest) and, per custom domain, the state of its certificate order: pending, issued
 * (certificate_id points at the `certificates` row, source 'acme') or failed (the CA's reason),
 * with the failure count and the time of the next attempt for back-off.
 */
export type AcmeStatus = 'pending' | 'issued' | 'failed';

export interface AcmeDomainRow {
  domainId: number;
  hostname: string;
  appId: number;
  appName: string;
  status: AcmeStatus;
  certificateId: number | null;
  /** Expiry of the issued certificate, if any. */
  expiresAt: string | null;
  /** The CA's reason for the last failure (kept on an issued domain whose renewal failed). */
  error: string | null;
  failures: number;
  nextAttemptAt: string | null;
  updatedAt: string;
}

interface Raw {
  domain_id: number;
  hostname: string;
  app_id: number;
  app_name: string;
  status: AcmeStatus;
  certificate_id: number | null;
  expires_at: string | null;
  error: string | null;
  failures: number;
  next_attempt_at: string | null;
  updated_at: string;
}

const toRow = (r: Raw): AcmeDomainRow => ({
  domainId: r.domain_id,
  hostname: r.hostname,
  appId: r.app_id,
  appName: r.app_name,
  status: r.status,
  certificateId: r.certificate_id,
  expiresAt: r.expires_at,
  error: r.error,
  failures: r.failures,
  nextAttemptAt: r.next_attempt_at,
  updatedAt: r.updated_at,
});

const SELECT = `SELECT x.domain_id, d.hostname, d.app_id, a.name AS app_name, x.status, x.certificate_id, c.expires_at,
    x.error, x.failures, x.next_attempt_at, x.updated_at
  FROM acme_domains x JOIN domains d ON d.id = x.domain_id JOIN apps a ON a.id = d.app_id
  LEFT JOIN certificates c ON c.id = x.certificate_id`;
const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

export function createAcmeRepo(db: Db, sealer: Sealer) {
  return {
    account(directoryUrl: string): { email: string; keyPem: string; accountUrl: string | null } | undefined {
      const r = db
        .prepare('SELECT email, key_enc, account_url FROM acme_accounts WHERE directory_url = ?')
        .get(directoryUrl) as { email: string; key_enc: Buffer; account_url: string | null } | undefined;
      return r && { email: r.email, keyPem: sealer.open(r.key_enc), accountUrl: r.account_url };
    },
    saveAccount(directoryUrl: string, a: { email: string; keyPem: string; accountUrl: string | null }): void {
      db.prepare(
        `INSERT INTO acme_accounts (directory_url, email, key_enc, account_url) VALUES (?, ?, ?, ?)
         ON CONFLICT (directory_url) DO UPDATE SET email = excluded.email, key_enc = excluded.key_enc, account_url = excluded.account_url`,
      ).run(directoryUrl, a.email, sealer.seal(a.keyPem), a.accountUrl);
    },
    list(): AcmeDomainRow[] {
      return (db.prepare(`${SELECT} ORDER BY a.name, d.hostname`).all() as Raw[]).map(toRow);
    },
    listForApp(appId: number): AcmeDomainRow[] {
      return (db.prepare(`${SELECT} WHERE d.app_id = ? ORDER BY d.hostname`).all(appId) as Raw[]).map(toRow);
    },
    get(domainId: number): AcmeDomainRow | undefined {
      const r = db.prepare(`${SELECT} WHERE x.domain_id = ?`).get(domainId) as Raw | undefined;
      return r && toRow(r);
    },
    /** Starts tracking a domain (no-op when tracked). */
    track(domainId: number): void {
      db.prepare(
        "INSERT INTO acme_domains (domain_id, status) VALUES (?, 'pending') ON CONFLICT (domain_id) DO NOTHING",
      ).run(domainId);
    },
    untrack(domainId: number): void {
      db.prepare('DELETE FROM acme_domains WHERE domain_id = ?').run(domainId);
    },
    /** Makes the domain due now (refresh), keeping its status. */
    dueNow(domainId: number): void {
      db.prepare(
        `UPDATE acme_domains SET next_attempt_at = NULL, failures = 0, updated_at = ${NOW} WHERE domain_id = ?`,
      ).run(domainId);
    },
    markIssued(domainId: number, certificateId: number): void {
      db.prepare(
        `UPDATE acme_domains SET status = 'issued', certificate_id = ?, error = NULL, failures = 0, next_attempt_at = NULL, updated_at = ${NOW} WHERE domain_id = ?`,
      ).run(certificateId, domainId);
    },
    /** A failed order: 'failed' unless a still-valid certificate is served (then it stays 'issued'). */
    markFailed(domainId: number, error: string, nextAttemptAt: Date): void {
      db.prepare(
        `UPDATE acme_domains SET status = CASE WHEN certificate_id IS NULL THEN 'failed' ELSE status END,
           error = ?, failures = failures + 1, next_attempt_at = ?, updated_at = ${NOW} WHERE domain_id = ?`,
      ).run(error.slice(0, 2000), nextAttemptAt.toISOString(), domainId);
    },
    /** ACME certificates no tracked domain points at (domain removed, auto disabled). */
    orphanCertificateIds(): number[] {
      return (
        db
          .prepare(
            "SELECT id FROM certificates WHERE source = 'acme' AND id NOT IN (SELECT certificate_id FROM acme_domains WHERE certificate_id IS NOT NULL)",
          )
          .all() as Array<{ id: number }>
      ).map((r) => r.id);
    },
    deleteCertificate(id: number): void {
      db.prepare("DELETE FROM certificates WHERE id = ? AND source = 'acme'").run(id);
    },
  };
}
export type AcmeRepo = ReturnType<typeof createAcmeRepo>;
