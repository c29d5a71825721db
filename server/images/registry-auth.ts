import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The registry credential: HTTP Basic with a fixed user and a random token the server makes at
 * startup. Only the server (which serves /v2/ and asks dockerd to pull) holds it; dockerd gets it
 * per pull in the X-Registry-Auth header and sends it back after the registry's 401 challenge.
 */
export const REGISTRY_USER = 'slipway';

export function newRegistryToken(): string {
  return randomBytes(32).toString('hex');
}

/** Constant time: both sides are hashed first, so neither the length nor a prefix leaks. */
export function checkBasicAuth(header: string | undefined, token: string): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  const given = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
  const h = (s: string) => createHash('sha256').update(s).digest();
  const ok = timingSafeEqual(h(given), h(`${REGISTRY_USER}:${token}`));
  return ok && token.length > 0;
}

/** The authconfig dockerode sends with a pull (dockerd's X-Registry-Auth). */
export function registryAuthConfig(
  registryHost: string,
  token: string,
): { username: string; password: string; serveraddress: string } {
  return { username: REGISTRY_USER, password: token, serveraddress: registryHost };
}
