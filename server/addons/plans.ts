import { randomBytes } from 'node:crypto';
import { SlipwayError } from '../../common/errors';
import type { AddonKind, AddonSecret } from '../state/repos/addons';

/**
 * Plans: the container's memory and CPU limits and the server settings that follow from them
 * (docs/addons.md "Plans"). PostgreSQL gets a quarter of the memory as shared_buffers; Redis may
 * hold three quarters of it as data (maxmemory, noeviction: writes fail rather than lose keys).
 */
export interface Plan {
  name: string;
  memoryMb: number;
  cpus: number;
  pgSharedBuffersMb: number;
  pgMaxConnections: number;
  redisMaxMemoryMb: number;
}

export const PLANS: Record<string, Plan> = {
  small: {
    name: 'small',
    memoryMb: 256,
    cpus: 0.5,
    pgSharedBuffersMb: 64,
    pgMaxConnections: 50,
    redisMaxMemoryMb: 192,
  },
  medium: {
    name: 'medium',
    memoryMb: 1024,
    cpus: 1,
    pgSharedBuffersMb: 256,
    pgMaxConnections: 100,
    redisMaxMemoryMb: 768,
  },
  large: {
    name: 'large',
    memoryMb: 4096,
    cpus: 2,
    pgSharedBuffersMb: 1024,
    pgMaxConnections: 200,
    redisMaxMemoryMb: 3072,
  },
};

export function assertPlan(raw: unknown): Plan {
  const p = typeof raw === 'string' ? PLANS[raw] : undefined;
  if (!p)
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(raw)} is not a plan`, {
      hint: `plans: ${Object.keys(PLANS).join(', ')} (docs/addons.md)`,
    });
  return p;
}

/** What `addons:create KIND` accepts: postgres (also postgresql, heroku-postgresql) and redis (heroku-redis). */
export function assertKind(raw: unknown): AddonKind {
  const s = String(raw ?? '')
    .toLowerCase()
    .replace(/^heroku-/, '');
  if (s === 'postgres' || s === 'postgresql') return 'postgres';
  if (s === 'redis') return 'redis';
  throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(raw)} is not an add-on kind`, {
    hint: 'slipway addons:create postgres, or slipway addons:create redis',
  });
}

/** Service names: lowercase, start with a letter, at most 40 characters (they become DNS aliases and Docker names). */
export function assertAddonName(raw: unknown): string {
  const s = String(raw ?? '');
  if (!/^[a-z][a-z0-9-]{1,38}[a-z0-9]$/.test(s)) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(s)} is not an add-on name`, {
      hint: 'use 3-40 lowercase letters, digits and dashes, starting with a letter (see: slipway addons)',
    });
  }
  return s;
}

/** Attachment names become config var prefixes: DATABASE → DATABASE_URL. */
export function assertAttachmentName(raw: unknown): string {
  const s = String(raw ?? '')
    .toUpperCase()
    .replace(/_URL$/, '');
  if (!/^[A-Z][A-Z0-9_]{0,40}$/.test(s)) {
    throw new SlipwayError('INVALID_INPUT', `${JSON.stringify(raw)} cannot name an attachment`, {
      hint: 'use letters, digits and underscores, like --as ANALYTICS_DB (the app gets ANALYTICS_DB_URL)',
    });
  }
  return s;
}

export const defaultAttachmentName = (kind: AddonKind) => (kind === 'postgres' ? 'DATABASE' : 'REDIS');
export const generateName = (kind: AddonKind) =>
  `${kind === 'postgres' ? 'postgresql' : 'redis'}-${randomBytes(4).toString('hex')}`;
/** 32 hex characters: 128 bits, safe in URLs and SQL literals without escaping. */
export const generatePassword = () => randomBytes(16).toString('hex');

/** The URL an attached app gets. Host: the service's name, a DNS alias on the app's own network. */
export function serviceUrl(kind: AddonKind, name: string, secret: AddonSecret): string {
  return kind === 'postgres'
    ? `postgres://${secret.user}:${secret.password}@${name}:5432/app`
    : `redis://${secret.user}:${secret.password}@${name}:6379`;
}

export function serviceEnv(kind: AddonKind, plan: Plan, secret: AddonSecret): Record<string, string> {
  return kind === 'postgres'
    ? {
        SLIPWAY_PG_PASSWORD: secret.password,
        SLIPWAY_PG_SHARED_BUFFERS: `${plan.pgSharedBuffersMb}MB`,
        SLIPWAY_PG_MAX_CONNECTIONS: String(plan.pgMaxConnections),
      }
    : { SLIPWAY_REDIS_PASSWORD: secret.password, SLIPWAY_REDIS_MAXMEMORY: `${plan.redisMaxMemoryMb}mb` };
}
