import * as os from 'node:os';
import * as path from 'node:path';
import { SlipwayError } from './errors';
import { defaultLimits, LIMIT_INFO, LIMIT_KEYS, limitEnvName, type Limits } from './limits';

/**
 * The platform's settings, read once from the environment by each process's composition root
 * (server/main.ts, router/main.ts) and passed down. Nothing else reads process.env for settings.
 */
export interface SlipwayConfig {
  home: string;
  domain: string;
  /** Address the router and API bind to. Loopback by default; operators choose otherwise. */
  bindHost: string;
  httpPort: number;
  httpsPort: number;
  apiPort: number;
  /** HTTPS listener of the API and git endpoint (platform certificate); 0 turns it off. */
  apiHttpsPort: number;
  /** Where the server's read-only registry is reached by dockerd (loopback, plain HTTP). */
  registryHost: string;
  /** The platform registry for multi-node (docs/scale-out.md "Registry"); null when off. */
  platformRegistry: PlatformRegistryConfig | null;
  /** The default stack of new apps. */
  stack: string;
  /** Machine-wide store of built stack images shared by installs (SLIPWAY_STACK_CACHE). */
  stackCache: string;
  /** SLIPWAY_STACK_AUTO_REBASE=1: stacks:update rebases every app on the stack (as --rebase does). */
  stackAutoRebase: boolean;
  /** SLIPWAY_STACK_REBASE_CONCURRENCY: apps rebased and rolled out at once by a stack-wide rebase (default 8). */
  stackRebaseConcurrency: number;
  /**
   * SLIPWAY_STACK_UPDATE_CHECK=daily: the server asks the mirror once a day whether the stacks'
   * packages have updates and only then rebuilds them (and rebases with stackAutoRebase). Off by default.
   */
  stackUpdateCheck: 'off' | 'daily';
  /** SLIPWAY_STACK_UPDATE_CHECK_DELAY_S: the first daily check runs this long after start (default 600). */
  stackUpdateCheckDelayMs: number;
  /** The Debian mirrors the stack recipe uses (SLIPWAY_DEBIAN_MIRROR, SLIPWAY_DEBIAN_SECURITY_MIRROR); unset: its defaults. */
  debianMirror?: string;
  debianSecurityMirror?: string;
  buildConcurrency: number;
  buildTimeoutMs: number;
  /** How long a push may wait in the build queue (default: the build time limit). */
  buildQueueWaitMs: number;
  /** How long a new web dyno has to answer by default (SLIPWAY_BOOT_TIMEOUT_S, 60). */
  bootTimeoutMs: number;
  /** The most an app may ask for with ps:boot-timeout or app.json (SLIPWAY_BOOT_TIMEOUT_MAX_S, 900). */
  bootTimeoutMaxMs: number;
  /** Image GC: releases whose images are kept per app (SLIPWAY_KEEP_RELEASES, 5) and its delay after a deploy (SLIPWAY_GC_AFTER_DEPLOY_S, 60). */
  gc: { keepReleases: number; afterDeployMs: number };
  caBundle: string;
  /** IPv4 range app networks take their /25 subnets from (one network per app). */
  networkPool: string;
  /** Install the host firewall rules for build and dyno networks (SLIPWAY_FIREWALL=off skips). */
  firewall: boolean;
  /** SLIPWAY_RUNTIME: `docker` (one engine, the default) or `swarm` (docs/scale-out.md "Swarm"). */
  runtime: 'docker' | 'swarm';
  /** Platform default of each per-account limit (common/limits.ts); admins override per user. */
  limits: Limits;
  router: RouterSettings;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Heroku's buildpack names (heroku/nodejs, heroku-buildpack-* URLs) use the built-in ones. */
  buildpackAliases: boolean;
  /** Pre-started build containers kept per stack (SLIPWAY_BUILD_POOL, 0 = none; docs/lifecycle.md). */
  buildPool: number;
  /** How builds store new image layers (SLIPWAY_LAYER_COMPRESSION none|gzip; docs/lifecycle.md). */
  layerCompression: 'none' | 'gzip';
  /** Automatic certificates (docs/tls.md); null when SLIPWAY_ACME_EMAIL is unset (ACME off). */
  acme: AcmeConfig | null;
  /** The API/git listeners' limits against slow or numerous clients (docs/api.md "Limits"). */
  api: ApiLimits;
  /**
   * host:port pairs on loopback/private addresses that buildpack URLs may still reach (an
   * internal buildpack server; tests). Empty by default: every such address is refused.
   */
  buildpackFetchAllow: string[];
  /** PostgreSQL / Redis add-ons (docs/addons.md). */
  addons: AddonsConfig;
  /** App metrics (docs/dashboard.md): SLIPWAY_METRICS=0 turns collection off. */
  metrics: { enabled: boolean; dynoSampleMs: number; flushMs: number };
  /** Dashboard sign-in: session lifetime and one-time link lifetime (at most 5 minutes). */
  dashboard: { sessionTtlMs: number; loginLinkTtlMs: number };
}

function runtimeKind(env: NodeJS.ProcessEnv): 'docker' | 'swarm' {
  const v = (env.SLIPWAY_RUNTIME || 'docker').toLowerCase();
  if (v === 'docker' || v === 'swarm') return v;
  throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_RUNTIME=${JSON.stringify(env.SLIPWAY_RUNTIME)} is not a runtime`, {
    hint: 'set SLIPWAY_RUNTIME to docker (one machine, the default) or swarm (docs/scale-out.md)',
  });
}

export interface AddonsConfig {
  /** Backups kept per service (oldest removed first); SLIPWAY_ADDON_BACKUP_RETAIN. */
  backupRetain: number;
  /** How long the old password stays valid after a rotation released the apps (their old dynos drain). */
  rotateGraceMs: number;
  /** Health check period of every service (pg_isready / PING). */
  healthIntervalMs: number;
}

/**
 * The platform registry (Debian's docker-registry, a child process of the server): on with
 * SLIPWAY_REGISTRY=on or SLIPWAY_RUNTIME=swarm. `addr` is where it listens (SLIPWAY_REGISTRY_ADDR,
 * default 127.0.0.1:5000); `name` is the host:port image references carry and nodes dial
 * (SLIPWAY_REGISTRY_NAME; default the address, or registry.DOMAIN:PORT when it listens on all
 * addresses, a name the platform certificate's *.DOMAIN covers).
 */
export interface PlatformRegistryConfig {
  addr: string;
  name: string;
}

export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

export interface AcmeConfig {
  /** ACME directory (RFC 8555): Let's Encrypt production unless SLIPWAY_ACME_DIRECTORY_URL. */
  directoryUrl: string;
  /** Account contact; setting it (install.sh --acme-email) is the operator accepting the CA's terms. */
  email: string;
  /** Extra CA certificates (PEM file) trusted for the ACME server's own HTTPS (a private CA, pebble). */
  caFile: string | null;
  /** Renew this many days before expiry (Let's Encrypt advises 30 for 90-day certificates). */
  renewBeforeDays: number;
  /** How often every certificate is checked for renewal (and failed domains retried when due). */
  checkIntervalMs: number;
  /** First retry delay after a failed order; doubles per failure up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface ApiLimits {
  /** A client must send its request head within this (Node headersTimeout): else 408 and close. */
  headersTimeoutMs: number;
  /** The whole request, body included (git packs), within this (Node requestTimeout). */
  requestTimeoutMs: number;
  /** Open connections per listener; more are closed at once (Node maxConnections). */
  maxConnections: number;
  /** Failed authentications (a credential was sent and refused) per address or token prefix... */
  authFailureLimit: number;
  /** ...within this window, after which that address or prefix gets 429 until the window passes. */
  authFailureWindowMs: number;
}

/** Every file and folder the platform keeps under SLIPWAY_HOME. docs/architecture.md lists them. */
export interface HomePaths {
  home: string;
  db: string;
  keyFile: string;
  repos: string;
  images: string;
  caches: string;
  builds: string;
  logs: string;
  /** The router's access log (router writes, the server's log hub tails; docs/architecture.md). */
  routerAccessLog: string;
  /** How far the server's tail has read routerAccessLog. */
  routerAccessOffset: string;
  run: string;
  routesFile: string;
  /** Pending ACME HTTP-01 challenges the router answers (docs/tls.md). */
  challengesFile: string;
  certsDir: string;
  /** The platform registry: config.yml, data/ (its storage), registry.log is in logs. */
  registry: string;
  stacks: string;
  buildpacks: string;
}

export function homePaths(home: string): HomePaths {
  return {
    home,
    db: path.join(home, 'state', 'slipway.db'),
    keyFile: path.join(home, 'state', 'secret.key'),
    repos: path.join(home, 'repos'),
    images: path.join(home, 'images'),
    caches: path.join(home, 'caches'),
    builds: path.join(home, 'builds'),
    logs: path.join(home, 'log'),
    routerAccessLog: path.join(home, 'log', 'router-access.log'),
    routerAccessOffset: path.join(home, 'log', 'router-access.offset'),
    run: path.join(home, 'run'),
    routesFile: path.join(home, 'run', 'routes.json'),
    challengesFile: path.join(home, 'run', 'acme-challenges.json'),
    certsDir: path.join(home, 'run', 'certs'),
    registry: path.join(home, 'registry'),
    stacks: path.join(home, 'stacks'),
    buildpacks: path.join(home, 'buildpacks'),
  };
}

/**
 * The one parser of whole-number settings: unset or empty → fallback; anything else must be an
 * integer in [min, max] or the process refuses to start with a hint.
 */
export function intSetting(
  env: NodeJS.ProcessEnv,
  key: string,
  fallback: number,
  o: { min?: number; max?: number; unit?: string } = {},
): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  const min = o.min ?? 1;
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isInteger(n) || n < min || n > max) {
    const what =
      max === 65535
        ? 'a port number'
        : max < Number.MAX_SAFE_INTEGER
          ? `a whole number from ${min} to ${max}${o.unit ? ` (${o.unit})` : ''}`
          : `a ${min > 0 ? 'positive ' : ''}whole number${o.unit ? ` of ${o.unit}` : ''}`;
    throw new SlipwayError('CONFIG_INVALID', `${key}=${JSON.stringify(raw)} is not ${what}`, {
      hint:
        max === 65535
          ? `set ${key} to a number between 1 and 65535, or unset it for the default (${fallback})`
          : `unset ${key} for the default${Number.isNaN(fallback) ? '' : ` (${fallback})`}`,
    });
  }
  return n;
}

const port = (env: NodeJS.ProcessEnv, key: string, fallback: number) =>
  intSetting(env, key, fallback, { min: 0, max: 65535 });
const positiveInt = (env: NodeJS.ProcessEnv, key: string, fallback: number, unit?: string) =>
  intSetting(env, key, fallback, { unit });

function acmeConfig(env: NodeJS.ProcessEnv): AcmeConfig | null {
  const email = env.SLIPWAY_ACME_EMAIL ?? '';
  if (email === '') return null;
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_ACME_EMAIL=${JSON.stringify(email)} is not an email address`, {
      hint: 'set the address the certificate authority may write to about your certificates, or unset it to turn ACME off',
    });
  }
  const directoryUrl = env.SLIPWAY_ACME_DIRECTORY_URL || LETS_ENCRYPT_PRODUCTION;
  if (!/^https:\/\/[^\s]+$/.test(directoryUrl)) {
    throw new SlipwayError(
      'CONFIG_INVALID',
      `SLIPWAY_ACME_DIRECTORY_URL=${JSON.stringify(directoryUrl)} is not an https URL`,
      {
        hint: `unset it for Let's Encrypt (${LETS_ENCRYPT_PRODUCTION}); staging: ${LETS_ENCRYPT_STAGING}`,
      },
    );
  }
  return {
    directoryUrl,
    email,
    caFile: env.SLIPWAY_ACME_CA_FILE || null,
    renewBeforeDays: positiveInt(env, 'SLIPWAY_ACME_RENEW_BEFORE_DAYS', 30),
    checkIntervalMs: positiveInt(env, 'SLIPWAY_ACME_CHECK_INTERVAL_S', 24 * 3600) * 1000,
    retryBaseMs: positiveInt(env, 'SLIPWAY_ACME_RETRY_BASE_S', 3600) * 1000,
    retryMaxMs: positiveInt(env, 'SLIPWAY_ACME_RETRY_MAX_S', 24 * 3600) * 1000,
  };
}

/**
 * slipway-router's own tuning (docs/router.md). Unset fields take the router's defaults
 * (router/router.ts DEFAULT_ROUTER_OPTIONS).
 */
export interface RouterSettings {
  balance?: 'round-robin' | 'least-outstanding';
  https: boolean;
  firstByteTimeoutMs?: number;
  idleTimeoutMs?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxHeaderSize?: number;
  keepAliveTimeoutMs?: number;
  agentIdleMs?: number;
  skipMs?: number;
  maxSocketsPerDyno?: number;
  accessLogMaxBytes?: number;
  /** Router processes sharing the listening sockets (SLIPWAY_ROUTER_WORKERS; 1 = one process). */
  workers: number;
  /** Set by the router's primary for each worker it forks (router/workers.ts); 0 otherwise. */
  workerIndex: number;
}

/** More router processes than this buys nothing on one machine's loopback and costs memory. */
const MAX_ROUTER_WORKERS = 8;

function routerSettings(env: NodeJS.ProcessEnv): RouterSettings {
  const balance = env.SLIPWAY_ROUTER_BALANCE;
  if (balance !== undefined && balance !== 'round-robin' && balance !== 'least-outstanding') {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_ROUTER_BALANCE=${JSON.stringify(balance)} is not a strategy`, {
      hint: 'use round-robin or least-outstanding',
    });
  }
  const opt = (key: string) => (env[key] === undefined || env[key] === '' ? undefined : positiveInt(env, key, NaN));
  return {
    balance,
    https: env.SLIPWAY_ROUTER_HTTPS !== 'off',
    firstByteTimeoutMs: opt('SLIPWAY_ROUTER_TIMEOUT_MS'),
    idleTimeoutMs: opt('SLIPWAY_ROUTER_IDLE_MS'),
    headersTimeoutMs: opt('SLIPWAY_ROUTER_HEADERS_TIMEOUT_MS'),
    requestTimeoutMs: opt('SLIPWAY_ROUTER_REQUEST_TIMEOUT_MS'),
    maxHeaderSize: opt('SLIPWAY_ROUTER_MAX_HEADER_BYTES'),
    keepAliveTimeoutMs: opt('SLIPWAY_ROUTER_KEEPALIVE_MS'),
    agentIdleMs: opt('SLIPWAY_ROUTER_AGENT_IDLE_MS'),
    skipMs: opt('SLIPWAY_ROUTER_SKIP_MS'),
    maxSocketsPerDyno: opt('SLIPWAY_ROUTER_MAX_SOCKETS_PER_DYNO'),
    accessLogMaxBytes: opt('SLIPWAY_ROUTER_ACCESS_LOG_MAX_BYTES'),
    // Default: one per two cores (os.availableParallelism honours CPU affinity), capped. The router
    // shares the machine with the apps, the server and builds: measured on 2 cores, a second
    // worker gained throughput only when a core was idle, and each one costs ~11 MiB (docs/router.md).
    workers: intSetting(
      env,
      'SLIPWAY_ROUTER_WORKERS',
      Math.min(MAX_ROUTER_WORKERS, Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / 2))),
      { max: MAX_ROUTER_WORKERS },
    ),
    workerIndex: intSetting(env, 'SLIPWAY_ROUTER_WORKER_INDEX', 0, { min: 0, max: MAX_ROUTER_WORKERS - 1 }),
  };
}

function hostPorts(env: NodeJS.ProcessEnv, key: string): string[] {
  const list = (env[key] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const hp of list) {
    if (!/^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):\d{1,5}$/.test(hp)) {
      throw new SlipwayError('CONFIG_INVALID', `${key}: ${JSON.stringify(hp)} is not host:port`, {
        hint: `list host:port pairs separated by commas (for example 10.0.0.5:8080), or unset ${key}`,
      });
    }
  }
  return list;
}

function flag(env: NodeJS.ProcessEnv, key: string, fallback: boolean): boolean {
  const raw = (env[key] ?? '').toLowerCase();
  if (raw === '') return fallback;
  if (['1', 'on', 'true', 'yes'].includes(raw)) return true;
  if (['0', 'off', 'false', 'no'].includes(raw)) return false;
  throw new SlipwayError('CONFIG_INVALID', `${key}=${JSON.stringify(env[key])} is not on or off`, {
    hint: `set ${key} to on or off, or unset it (default: ${fallback ? 'on' : 'off'})`,
  });
}

function platformRegistry(env: NodeJS.ProcessEnv, domain: string): PlatformRegistryConfig | null {
  if (!flag(env, 'SLIPWAY_REGISTRY', (env.SLIPWAY_RUNTIME ?? '').toLowerCase() === 'swarm')) return null;
  const addr = env.SLIPWAY_REGISTRY_ADDR || '127.0.0.1:5000';
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(addr);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_REGISTRY_ADDR=${JSON.stringify(addr)} is not host:port`, {
      hint: 'set it to the address the registry listens on, for example 0.0.0.0:5000 (default 127.0.0.1:5000)',
    });
  }
  const anyAddr = m[1] === '0.0.0.0' || m[1] === '[::]';
  const name = (env.SLIPWAY_REGISTRY_NAME || (anyAddr ? `registry.${domain}:${m[2]}` : addr)).toLowerCase();
  if (!/^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):\d{1,5}$/.test(name)) {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_REGISTRY_NAME=${JSON.stringify(name)} is not host:port`, {
      hint: `set it to the name nodes reach the registry by, for example registry.${domain}:${m[2]}`,
    });
  }
  return { addr, name };
}

function limits(env: NodeJS.ProcessEnv, buildConcurrency: number): Limits {
  const out = defaultLimits(buildConcurrency);
  for (const k of LIMIT_KEYS) {
    out[k] = intSetting(env, limitEnvName(k), out[k], { min: 0, max: LIMIT_INFO[k].max, unit: LIMIT_INFO[k].unit });
  }
  return out;
}

function stackUpdateCheck(v: string | undefined): 'off' | 'daily' {
  if (!v || /^(off|0|false|no)$/i.test(v)) return 'off';
  if (/^daily$/i.test(v)) return 'daily';
  throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_STACK_UPDATE_CHECK=${JSON.stringify(v)} is not daily or off`, {
    hint: 'set SLIPWAY_STACK_UPDATE_CHECK=daily (or leave it unset: off; cron can run slipway stacks:check instead)',
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SlipwayConfig {
  const level = env.SLIPWAY_LOG_LEVEL ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_LOG_LEVEL=${JSON.stringify(level)} is not a log level`, {
      hint: 'use debug, info, warn or error',
    });
  }
  const domain = (env.SLIPWAY_DOMAIN ?? 'localhost').toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(domain)) {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_DOMAIN=${JSON.stringify(domain)} is not a domain name`, {
      hint: 'set SLIPWAY_DOMAIN to a host name such as apps.example.com (default: localhost)',
    });
  }
  const apiPort = port(env, 'SLIPWAY_API_PORT', 5080);
  const buildConcurrency = positiveInt(env, 'SLIPWAY_BUILD_CONCURRENCY', os.cpus().length);
  const buildTimeoutMs = positiveInt(env, 'SLIPWAY_BUILD_TIMEOUT_S', 15 * 60, 'seconds') * 1000;
  return {
    home: path.resolve(env.SLIPWAY_HOME ?? '/var/lib/slipway'),
    domain,
    bindHost: env.SLIPWAY_BIND ?? '127.0.0.1',
    httpPort: port(env, 'SLIPWAY_HTTP_PORT', 80),
    httpsPort: port(env, 'SLIPWAY_HTTPS_PORT', 443),
    apiPort,
    apiHttpsPort: port(env, 'SLIPWAY_API_HTTPS_PORT', 5443),
    registryHost: env.SLIPWAY_REGISTRY_HOST ?? `127.0.0.1:${apiPort}`,
    platformRegistry: platformRegistry(env, domain),
    stack: env.SLIPWAY_STACK ?? 'bookworm',
    stackCache: env.SLIPWAY_STACK_CACHE ?? '/var/cache/slipway/stacks',
    stackAutoRebase: /^(1|true|yes|on)$/i.test(env.SLIPWAY_STACK_AUTO_REBASE ?? ''),
    stackRebaseConcurrency: Math.max(1, Math.min(32, Number(env.SLIPWAY_STACK_REBASE_CONCURRENCY ?? 8) || 8)),
    stackUpdateCheck: stackUpdateCheck(env.SLIPWAY_STACK_UPDATE_CHECK),
    stackUpdateCheckDelayMs: positiveInt(env, 'SLIPWAY_STACK_UPDATE_CHECK_DELAY_S', 600, 'seconds') * 1000,
    debianMirror: env.SLIPWAY_DEBIAN_MIRROR || undefined,
    debianSecurityMirror: env.SLIPWAY_DEBIAN_SECURITY_MIRROR || undefined,
    buildConcurrency,
    buildTimeoutMs,
    buildQueueWaitMs: positiveInt(env, 'SLIPWAY_BUILD_QUEUE_WAIT_S', buildTimeoutMs / 1000, 'seconds') * 1000,
    bootTimeoutMs: positiveInt(env, 'SLIPWAY_BOOT_TIMEOUT_S', 60) * 1000,
    bootTimeoutMaxMs:
      Math.max(
        positiveInt(env, 'SLIPWAY_BOOT_TIMEOUT_MAX_S', 15 * 60),
        positiveInt(env, 'SLIPWAY_BOOT_TIMEOUT_S', 60),
      ) * 1000,
    gc: {
      keepReleases: positiveInt(env, 'SLIPWAY_KEEP_RELEASES', 5),
      afterDeployMs: positiveInt(env, 'SLIPWAY_GC_AFTER_DEPLOY_S', 60, 'seconds') * 1000,
    },
    caBundle: env.SLIPWAY_CA_BUNDLE ?? '/etc/ssl/certs/ca-certificates.crt',
    networkPool: env.SLIPWAY_NETWORK_POOL || '10.213.0.0/16',
    firewall: flag(env, 'SLIPWAY_FIREWALL', true),
    runtime: runtimeKind(env),
    limits: limits(env, buildConcurrency),
    router: routerSettings(env),
    logLevel: level as SlipwayConfig['logLevel'],
    acme: acmeConfig(env),
    api: {
      headersTimeoutMs: positiveInt(env, 'SLIPWAY_API_HEADERS_TIMEOUT_S', 20) * 1000,
      requestTimeoutMs: positiveInt(env, 'SLIPWAY_API_REQUEST_TIMEOUT_S', 30 * 60) * 1000,
      maxConnections: positiveInt(env, 'SLIPWAY_API_MAX_CONNECTIONS', 1024),
      authFailureLimit: positiveInt(env, 'SLIPWAY_AUTH_FAILURE_LIMIT', 10),
      authFailureWindowMs: positiveInt(env, 'SLIPWAY_AUTH_FAILURE_WINDOW_S', 60) * 1000,
    },
    buildpackFetchAllow: hostPorts(env, 'SLIPWAY_BUILDPACK_FETCH_ALLOW'),
    buildpackAliases: !/^(0|false|no|off)$/i.test(env.SLIPWAY_BUILDPACK_ALIASES ?? ''),
    layerCompression: layerCompression(env),
    buildPool: intSetting(env, 'SLIPWAY_BUILD_POOL', 1, { min: 0, max: 4 }),
    addons: {
      backupRetain: positiveInt(env, 'SLIPWAY_ADDON_BACKUP_RETAIN', 7),
      rotateGraceMs: positiveInt(env, 'SLIPWAY_ADDON_ROTATE_GRACE_S', 30) * 1000,
      healthIntervalMs: positiveInt(env, 'SLIPWAY_ADDON_HEALTH_INTERVAL_S', 15) * 1000,
    },
    metrics: {
      enabled: env.SLIPWAY_METRICS !== '0',
      dynoSampleMs: positiveInt(env, 'SLIPWAY_METRICS_DYNO_SAMPLE_S', 10) * 1000,
      flushMs: positiveInt(env, 'SLIPWAY_METRICS_FLUSH_S', 10) * 1000,
    },
    dashboard: {
      sessionTtlMs: positiveInt(env, 'SLIPWAY_DASHBOARD_SESSION_H', 12) * 3600 * 1000,
      loginLinkTtlMs: Math.min(300, positiveInt(env, 'SLIPWAY_DASHBOARD_LINK_S', 300)) * 1000,
    },
  };
}

function layerCompression(env: NodeJS.ProcessEnv): 'none' | 'gzip' {
  const v = (env.SLIPWAY_LAYER_COMPRESSION ?? '').trim() || 'none';
  if (v !== 'none' && v !== 'gzip') {
    throw new SlipwayError('CONFIG_INVALID', `SLIPWAY_LAYER_COMPRESSION=${JSON.stringify(v)} is not none or gzip`, {
      hint: 'unset it (plain tars: fastest for the local Docker) or set it to gzip to save disk',
    });
  }
  return v;
}
