import { SlipwayError } from './errors';

/**
 * App names become host names (APP.domain), repository paths (repos/APP.git), Docker labels and
 * container names. They are validated at every entry point (API, git endpoint, CLI, router file)
 * and never interpolated into a shell. Peers that skipped this shipped shell injections
 * (Dokku CVE-2026-45408) and path traversals (node-git-server GHSA-cv3v-7846-6pxm).
 */
export const APP_NAME_RE = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;

export function isValidAppName(name: unknown): name is string {
  return typeof name === 'string' && APP_NAME_RE.test(name);
}

export function assertAppName(name: unknown): string {
  if (!isValidAppName(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 40)) : String(name);
    throw new SlipwayError('INVALID_NAME', `${shown} is not a valid app name`, {
      hint: 'use 3 to 30 characters: a lowercase letter first, then lowercase letters, digits or dashes, not ending in a dash (for example "my-app-2")',
    });
  }
  return name;
}

/** Process types as Procfile allows them, lowercased for DNS/label use where needed. */
export const PROCESS_TYPE_RE = /^[A-Za-z0-9_-]{1,63}$/;

export function assertProcessType(type: unknown): string {
  if (typeof type !== 'string' || !PROCESS_TYPE_RE.test(type)) {
    throw new SlipwayError('INVALID_NAME', `${JSON.stringify(String(type))} is not a valid process type`, {
      hint: 'process types use letters, digits, "_" and "-" (for example web, worker)',
    });
  }
  return type;
}

/** Config var keys, like Heroku: a letter or underscore first, then letters, digits, underscores. */
export const CONFIG_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

export function assertConfigKey(key: unknown): string {
  if (typeof key !== 'string' || !CONFIG_KEY_RE.test(key)) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(String(key))} is not a valid config var name`, {
      hint: 'config var names start with a letter or "_" and contain only letters, digits and "_"',
    });
  }
  return key;
}

/** Host names for custom domains: exact labels, an optional single leading "*." wildcard. */
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
export const DOMAIN_RE = new RegExp(`^(?:\\*\\.)?(?:${LABEL}\\.)+${LABEL}$`);

export function assertDomain(host: unknown): string {
  if (typeof host !== 'string' || host.length > 253 || !DOMAIN_RE.test(host.toLowerCase())) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(String(host))} is not a valid domain name`, {
      hint: 'use a host name such as www.example.com, or *.example.com for an explicit wildcard',
    });
  }
  return host.toLowerCase();
}

/**
 * Names an app may not take: they are (or will be) the platform's own host names under
 * SLIPWAY_DOMAIN (api.DOMAIN, www.DOMAIN, registry.DOMAIN...), its internal names (the router's
 * health host is slipway-router), or names users would take for the platform's own pages. Checked
 * only when an app is created or renamed, so apps that already have such a name keep working.
 */
export const RESERVED_APP_NAMES: ReadonlySet<string> = new Set([
  // The platform's own names and pages.
  'api',
  'www',
  'admin',
  'administrator',
  'git',
  'registry',
  'dashboard',
  'status',
  'slipway',
  'router',
  'auth',
  'login',
  'console',
  'metrics',
  'health',
  'healthz',
  'localhost',
  // Infrastructure host names an operator may need under the platform domain.
  'mail',
  'smtp',
  'imap',
  'ftp',
  'ssh',
  'dns',
  'ns1',
  'ns2',
  'cdn',
]);

export function isReservedAppName(name: string): boolean {
  return RESERVED_APP_NAMES.has(name) || name.startsWith('slipway-');
}

/** assertAppName plus the reserved words: for names being given now (create, rename). */
export function assertNewAppName(name: unknown): string {
  const n = assertAppName(name);
  if (isReservedAppName(n)) {
    throw new SlipwayError('INVALID_NAME', `"${n}" is reserved for the platform and cannot be an app name`, {
      hint: 'choose another name (names starting with "slipway-" and words such as api, www, admin, git, registry, dashboard, status are reserved)',
    });
  }
  return n;
}

/** One IPv4 part as inet_aton reads it: decimal, 0x hex or 0-led octal. */
const IPV4_PART_RE = /^(?:0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$/;

/**
 * True when a host name would be read as an IP address by some resolver or URL parser: IPv6
 * (with or without brackets, including ::ffff:127.0.0.1), dotted IPv4 in any inet_aton form
 * (127.1, 0x7f.0.0.1, 017700000001, 2130706433), and, like the WHATWG URL parser, any name whose
 * last label is a number (browsers parse "foo.0x7f" as an IPv4 address and fail or connect).
 */
export function isIpLiteral(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') || h.includes(':')) return true; // every IPv6 form; ':' never occurs in a domain
  if (h.endsWith('.')) h = h.slice(0, -1);
  const labels = h.split('.');
  const last = labels[labels.length - 1];
  if (last !== '' && (/^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/.test(last))) return true;
  return labels.length <= 4 && labels.every((l) => IPV4_PART_RE.test(l));
}

/** Top-level names that never resolve to a tenant's host on the public DNS (RFC 6761, 6762, 8375...). */
const RESERVED_SUFFIXES = [
  'localhost',
  'local',
  'localdomain',
  'internal',
  'invalid',
  'arpa',
  'home.arpa',
  'onion',
  'lan',
  'intranet',
  'corp',
  'private',
];

/**
 * A custom domain: a valid name (assertDomain), not an IP literal, not under the platform domain
 * (APP.DOMAIN belongs to the app called APP, and the platform's own names live there), not a name
 * that means this machine or a local network (localhost, *.localhost, *.local, *.internal...).
 */
export function assertCustomDomain(hostname: unknown, platformDomain: string): string {
  if (typeof hostname === 'string' && isIpLiteral(hostname)) {
    throw new SlipwayError(
      'INVALID_INPUT',
      `${JSON.stringify(hostname.slice(0, 60))} is an IP address, not a domain name`,
      {
        hint: 'custom domains are host names you own (for example www.example.com); point its DNS record at the router instead',
      },
    );
  }
  const host = assertDomain(hostname);
  const base = host.startsWith('*.') ? host.slice(2) : host;
  const pd = platformDomain.toLowerCase();
  if (base === pd || base.endsWith(`.${pd}`)) {
    throw new SlipwayError('INVALID_INPUT', `${host} is under the platform domain ${pd}`, {
      hint: `every app is already served at APP.${pd}; add a domain you own instead`,
    });
  }
  const tld = RESERVED_SUFFIXES.find((s) => base === s || base.endsWith(`.${s}`));
  if (tld) {
    throw new SlipwayError('INVALID_INPUT', `${host} is a reserved name (.${tld} never names a public host)`, {
      hint: 'add a domain you own on the public DNS, for example www.example.com',
    });
  }
  return host;
}
