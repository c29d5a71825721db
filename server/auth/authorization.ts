/**
 * The one parser of the Authorization header. An API token comes as `Bearer slw_...` (the CLI)
 * or as the password of `Basic` credentials (git, curl -u; the user name is ignored, as on
 * Heroku). `schemes` says which a caller accepts (the git endpoint: Basic only).
 */
export function tokenFromAuthorization(
  header: string | undefined,
  schemes: ReadonlyArray<'bearer' | 'basic'> = ['bearer', 'basic'],
): string | undefined {
  const m = /^([A-Za-z]+)\s+(\S+)\s*$/.exec(header ?? '');
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme === 'bearer' && schemes.includes('bearer')) return m[2];
  if (scheme === 'basic' && schemes.includes('basic') && /^[A-Za-z0-9+/=]+$/.test(m[2])) {
    const decoded = Buffer.from(m[2], 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i >= 0 ? decoded.slice(i + 1) : undefined;
  }
  return undefined;
}
