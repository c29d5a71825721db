import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { CertificateEntry } from './route-table';
import { createLogger } from '../common/logger';

const log = createLogger('slipway-router');

/**
 * Certificates for the https listener, chosen by SNI: an exact host name first, then an explicit
 * wildcard one label up, then the platform's own certificate (the listener's default, also used
 * when a client sends no SNI). PEM files are re-read only when their mtime changes.
 */
export interface SniStore {
  update(entries: CertificateEntry[]): void;
  SNICallback(servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void;
  /** Hosts currently served with their own certificate (for the health endpoint and tests). */
  hosts(): string[];
}

interface Loaded {
  stamp: string;
  context: tls.SecureContext;
}

export function createSniStore(opts: { home: string; fallback?: tls.SecureContext }): SniStore {
  const cache = new Map<string, Loaded>();
  let exact = new Map<string, tls.SecureContext>();
  let wildcard = new Map<string, tls.SecureContext>();

  const load = (entry: CertificateEntry): tls.SecureContext | undefined => {
    const certFile = path.resolve(opts.home, entry.certFile);
    const keyFile = path.resolve(opts.home, entry.keyFile);
    try {
      const stamp = `${fs.statSync(certFile).mtimeMs}:${fs.statSync(keyFile).mtimeMs}`;
      const hit = cache.get(certFile);
      if (hit && hit.stamp === stamp) return hit.context;
      const context = tls.createSecureContext({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) });
      cache.set(certFile, { stamp, context });
      return context;
    } catch (err) {
      log.error(`certificate ${entry.certFile} not loaded: ${(err as Error).message}`);
      return undefined;
    }
  };

  return {
    update(entries) {
      const nextExact = new Map<string, tls.SecureContext>();
      const nextWildcard = new Map<string, tls.SecureContext>();
      for (const e of entries) {
        const ctx = load(e);
        if (!ctx) continue;
        for (const h of e.hosts.map((x) => x.toLowerCase())) {
          if (h.startsWith('*.')) nextWildcard.set(h.slice(2), ctx);
          else nextExact.set(h, ctx);
        }
      }
      exact = nextExact;
      wildcard = nextWildcard;
    },
    SNICallback(servername, cb) {
      const name = servername.toLowerCase();
      const dot = name.indexOf('.');
      cb(null, exact.get(name) ?? (dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined) ?? opts.fallback);
    },
    hosts() {
      return [...exact.keys(), ...[...wildcard.keys()].map((k) => `*.${k}`)];
    },
  };
}
