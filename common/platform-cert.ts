import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { HomePaths } from './config';
import { SlipwayError } from './errors';

const run = promisify(execFile);

/**
 * The platform's self-signed certificate for DOMAIN and *.DOMAIN (run/certs/platform.crt and
 * platform.key, key 0600): the https listener's default when no app certificate matches.
 * Idempotent: an existing certificate that covers the domain and is valid for 30 more days is kept.
 * Used by the router (https default) and the server (API HTTPS). Command line (install.sh):
 * `SLIPWAY_HOME=... SLIPWAY_DOMAIN=... node dist/router/cert.js`.
 */
export async function ensurePlatformCertificate(
  paths: HomePaths,
  domain: string,
): Promise<{ certFile: string; keyFile: string; created: boolean }> {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(domain)) {
    throw new SlipwayError('CONFIG_INVALID', `${JSON.stringify(domain)} is not a domain name`, {
      hint: 'set SLIPWAY_DOMAIN to a host name',
    });
  }
  const certFile = path.join(paths.certsDir, 'platform.crt');
  const keyFile = path.join(paths.certsDir, 'platform.key');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    try {
      const x = new X509Certificate(fs.readFileSync(certFile));
      const monthLeft = new Date(x.validTo).getTime() - Date.now() > 30 * 24 * 3600 * 1000;
      if (monthLeft && x.checkHost(domain) !== undefined) return { certFile, keyFile, created: false };
    } catch {
      // unreadable: make a new one
    }
  }
  fs.mkdirSync(paths.certsDir, { recursive: true, mode: 0o755 });
  const tmpKey = `${keyFile}.${process.pid}.tmp`;
  const tmpCert = `${certFile}.${process.pid}.tmp`;
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-days',
        '825',
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
        '-subj',
        `/CN=${domain}`,
        '-addext',
        `subjectAltName=DNS:${domain},DNS:*.${domain}`,
      ],
      { timeout: 60_000 },
    );
  } catch (err) {
    fs.rmSync(tmpKey, { force: true });
    fs.rmSync(tmpCert, { force: true });
    throw new SlipwayError('INTERNAL', `could not create the platform certificate: ${(err as Error).message}`, {
      hint: 'check that openssl is installed (apt-get install openssl)',
    });
  }
  fs.chmodSync(tmpKey, 0o600);
  fs.renameSync(tmpKey, keyFile);
  fs.renameSync(tmpCert, certFile);
  return { certFile, keyFile, created: true };
}
