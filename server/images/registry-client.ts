import { X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { SlipwayError } from '../../common/errors';
import type { RegistryCredentials } from './registry-process';

/**
 * The server's HTTP client of the platform registry (distribution API v2) over TLS. The server
 * dials the registry's own address (loopback when it listens on all addresses) and pins the
 * platform certificate itself: it trusts exactly that certificate, whatever name it dials by.
 */
export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RegistryClient {
  /** base: https://HOST:PORT; path starts with /v2/ (or is a full URL the registry gave). */
  request(
    method: string,
    pathOrUrl: string,
    o?: { headers?: Record<string, string>; body?: Buffer | Readable; length?: number },
  ): Promise<RegistryResponse>;
  base: string;
  /** Drops kept-alive connections (after the registry restarted: they are dead). */
  resetConnections(): void;
  close(): void;
}

export function createRegistryClient(opts: {
  host: string;
  port: number;
  certPem: Buffer;
  credentials: RegistryCredentials;
}): RegistryClient {
  const pinned = new X509Certificate(opts.certPem).fingerprint256;
  const newAgent = () =>
    new https.Agent({
      keepAlive: true,
      maxSockets: 8,
      ca: opts.certPem,
      checkServerIdentity: (_host, cert) =>
        cert.fingerprint256 === pinned
          ? undefined
          : new Error('the registry presented a certificate other than the platform certificate'),
    });
  let agent = newAgent();
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const base = `https://${host}:${opts.port}`;
  const auth = `Basic ${Buffer.from(`${opts.credentials.username}:${opts.credentials.password}`).toString('base64')}`;

  function request(
    method: string,
    pathOrUrl: string,
    o: { headers?: Record<string, string>; body?: Buffer | Readable; length?: number } = {},
  ): Promise<RegistryResponse> {
    const url = new URL(pathOrUrl, base);
    // Upload locations come back as absolute URLs: only ever follow them to the registry itself.
    if (url.origin !== new URL(base).origin) {
      return Promise.reject(
        new SlipwayError('INTERNAL', `the registry sent a location outside itself (${url.origin})`, {
          hint: 'set SLIPWAY_REGISTRY_NAME/ADDR consistently',
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization: auth, ...o.headers };
      const length = Buffer.isBuffer(o.body) ? o.body.length : o.length;
      if (length !== undefined) headers['content-length'] = String(length);
      const req = https.request(url, { method, agent, headers, timeout: 120_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer within 120 s`)));
      req.on('error', (err) =>
        reject(
          new SlipwayError('DEPLOY_FAILED', `the platform registry did not answer: ${err.message}`, {
            hint: 'the server restarts it by itself; see log/registry.log in SLIPWAY_HOME',
            cause: err,
          }),
        ),
      );
      if (!o.body) req.end();
      else if (Buffer.isBuffer(o.body)) req.end(o.body);
      else {
        o.body.on('error', (err) => req.destroy(err));
        o.body.pipe(req);
      }
    });
  }

  return {
    request,
    base,
    resetConnections() {
      agent.destroy();
      agent = newAgent();
    },
    close: () => agent.destroy(),
  };
}

/** A registry answer other than the expected one, as an error with the registry's own words. */
export function registryError(what: string, r: RegistryResponse): SlipwayError {
  let detail = '';
  try {
    const e = (JSON.parse(r.body.toString('utf8')) as { errors?: Array<{ code: string; message: string }> })
      .errors?.[0];
    if (e) detail = `: ${e.code} ${e.message}`;
  } catch {
    /* not JSON */
  }
  return new SlipwayError('DEPLOY_FAILED', `${what}: the registry answered ${r.status}${detail}`, {
    hint:
      r.status === 401
        ? 'the registry refused the platform credential (state/registry-credentials.json); restart the server to rewrite the htpasswd file'
        : 'see log/registry.log in SLIPWAY_HOME',
  });
}
