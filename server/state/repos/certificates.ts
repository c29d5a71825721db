import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Db } from '../db';
import type { Sealer } from '../crypto';
import { SlipwayError } from '../../../common/errors';

/**
 * TLS certificates (`slipway certs:add CERT KEY`): PEM chain kept as given, private key encrypted
 * at rest with the state key. app_id NULL is a certificate of the platform itself. The server
 * renders them into run/certs/ for the router (server/routes/publish.ts).
 */
export interface CertificateRow {
  id: number;
  appId: number | null;
  hostnames: string[];
  certPem: string;
  expiresAt: string;
  createdAt: string;
  /** 'upload' (certs:add) or 'acme' (issued automatically for one custom domain). */
  source: 'upload' | 'acme';
}

interface RawCert {
  id: number;
  app_id: number | null;
  hostnames: string;
  cert_pem: string;
  expires_at: string;
  created_at: string;
  source: string;
}

const toCert = (r: RawCert): CertificateRow => ({
  id: r.id,
  appId: r.app_id,
  hostnames: JSON.parse(r.hostnames) as string[],
  certPem: r.cert_pem,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  source: r.source === 'acme' ? 'acme' : 'upload',
});

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** What a certificate covers and until when; checks the key belongs to it. Throws INVALID_INPUT. */
export function inspectCertificate(
  certPem: string,
  keyPem: string,
  now = new Date(),
): { hostnames: string[]; expiresAt: string; chainLength: number } {
  const blocks = String(certPem).match(PEM_CERT_RE) ?? [];
  if (blocks.length === 0) {
    throw new SlipwayError('INVALID_INPUT', 'the certificate file holds no PEM certificate', {
      hint: 'pass the PEM file that starts with -----BEGIN CERTIFICATE----- (leaf first, then the chain)',
    });
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]!);
  } catch (err) {
    throw new SlipwayError('INVALID_INPUT', `the certificate could not be read: ${(err as Error).message}`, {
      hint: 'check that the file is a PEM certificate',
    });
  }
  let key;
  try {
    key = createPrivateKey(String(keyPem));
  } catch (err) {
    throw new SlipwayError('INVALID_INPUT', `the private key could not be read: ${(err as Error).message}`, {
      hint: 'pass an unencrypted PEM private key (-----BEGIN PRIVATE KEY----- or RSA/EC PRIVATE KEY)',
    });
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new SlipwayError('INVALID_INPUT', 'the private key does not match the certificate', {
      hint: "pass the key the certificate was issued for (its public key must be the certificate's)",
    });
  }
  const expires = new Date(leaf.validTo);
  if (expires.getTime() <= now.getTime()) {
    throw new SlipwayError('INVALID_INPUT', `the certificate expired on ${expires.toISOString()}`, {
      hint: 'renew it and add the new one',
    });
  }
  const san = (leaf.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1]?.toLowerCase();
  const hostnames = san.length > 0 ? san : cn ? [cn] : [];
  if (hostnames.length === 0) {
    throw new SlipwayError('INVALID_INPUT', 'the certificate names no host (no DNS subjectAltName, no CN)', {
      hint: 'use a certificate issued for your domain names',
    });
  }
  return { hostnames, expiresAt: expires.toISOString(), chainLength: blocks.length };
}

export function createCertificatesRepo(db: Db, sealer: Sealer) {
  return {
    add(input: { appId: number | null; certPem: string; keyPem: string; source?: 'upload' | 'acme' }): CertificateRow {
      const info = inspectCertificate(input.certPem, input.keyPem);
      const chain = (input.certPem.match(PEM_CERT_RE) ?? []).join('\n') + '\n';
      const r = db
        .prepare(
          'INSERT INTO certificates (app_id, hostnames, cert_pem, key_enc, expires_at, source) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(
          input.appId,
          JSON.stringify(info.hostnames),
          chain,
          sealer.seal(input.keyPem),
          info.expiresAt,
          input.source ?? 'upload',
        );
      return this.get(Number(r.lastInsertRowid))!;
    },
    /** Replaces an ACME certificate's content in place (renewal): same id, so the same PEM paths. */
    replace(id: number, certPem: string, keyPem: string): CertificateRow {
      const info = inspectCertificate(certPem, keyPem);
      const chain = (certPem.match(PEM_CERT_RE) ?? []).join('\n') + '\n';
      db.prepare('UPDATE certificates SET hostnames = ?, cert_pem = ?, key_enc = ?, expires_at = ? WHERE id = ?').run(
        JSON.stringify(info.hostnames),
        chain,
        sealer.seal(keyPem),
        info.expiresAt,
        id,
      );
      return this.get(id)!;
    },
    get(id: number): CertificateRow | undefined {
      const r = db
        .prepare(
          'SELECT id, app_id, hostnames, cert_pem, expires_at, created_at, source FROM certificates WHERE id = ?',
        )
        .get(id) as RawCert | undefined;
      return r && toCert(r);
    },
    /** The decrypted private key; only the route publisher needs it. */
    keyPem(id: number): string {
      const r = db.prepare('SELECT key_enc FROM certificates WHERE id = ?').get(id) as { key_enc: Buffer } | undefined;
      if (!r)
        throw new SlipwayError('NOT_FOUND', `certificate ${id} does not exist`, {
          hint: 'list them with: slipway certs',
        });
      return sealer.open(r.key_enc);
    },
    remove(appId: number | null, id: number): void {
      const info =
        appId === null
          ? db.prepare('DELETE FROM certificates WHERE id = ? AND app_id IS NULL').run(id)
          : db.prepare('DELETE FROM certificates WHERE id = ? AND app_id = ?').run(id, appId);
      if (info.changes === 0)
        throw new SlipwayError('NOT_FOUND', `certificate ${id} does not exist for this app`, {
          hint: 'list them with: slipway certs',
        });
    },
    listForApp(appId: number): CertificateRow[] {
      return (
        db
          .prepare(
            'SELECT id, app_id, hostnames, cert_pem, expires_at, created_at, source FROM certificates WHERE app_id = ? ORDER BY id',
          )
          .all(appId) as RawCert[]
      ).map(toCert);
    },
    list(): CertificateRow[] {
      return (
        db
          .prepare(
            'SELECT id, app_id, hostnames, cert_pem, expires_at, created_at, source FROM certificates ORDER BY id',
          )
          .all() as RawCert[]
      ).map(toCert);
    },
  };
}
export type CertificatesRepo = ReturnType<typeof createCertificatesRepo>;
