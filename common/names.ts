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
