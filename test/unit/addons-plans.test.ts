import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertAddonName,
  assertAttachmentName,
  assertKind,
  assertPlan,
  generatePassword,
  serviceEnv,
  serviceUrl,
  PLANS,
} from '../../server/addons/plans';

test('add-on kinds: postgres/postgresql/heroku-postgresql and redis/heroku-redis; anything else refused with a hint', () => {
  for (const k of ['postgres', 'postgresql', 'heroku-postgresql', 'Postgres']) assert.equal(assertKind(k), 'postgres');
  for (const k of ['redis', 'heroku-redis']) assert.equal(assertKind(k), 'redis');
  assert.throws(
    () => assertKind('mysql'),
    (e: Error & { hint?: string }) => /postgres/.test(e.hint ?? ''),
  );
});

test('attachment names become config var prefixes; a trailing _URL is accepted; bad names refused', () => {
  assert.equal(assertAttachmentName('analytics_db'), 'ANALYTICS_DB');
  assert.equal(assertAttachmentName('CACHE_URL'), 'CACHE');
  for (const bad of ['1DB', 'DB-X', '', 'A B']) assert.throws(() => assertAttachmentName(bad));
});

test('service names are DNS-safe; plans are small/medium/large', () => {
  assert.equal(assertAddonName('postgresql-1a2b3c4d'), 'postgresql-1a2b3c4d');
  for (const bad of ['Postgres', 'a', '-x1', 'x_y', 'ends-', 'x'.repeat(41)]) assert.throws(() => assertAddonName(bad));
  assert.deepEqual(Object.keys(PLANS), ['small', 'medium', 'large']);
  assert.throws(() => assertPlan('huge'));
  assert.equal(assertPlan('medium').memoryMb, 1024);
});

test('URLs point at the service name on the app network; the password is 128 bits of hex', () => {
  const p = generatePassword();
  assert.match(p, /^[0-9a-f]{32}$/);
  assert.notEqual(p, generatePassword());
  assert.equal(
    serviceUrl('postgres', 'postgresql-ab', { user: 'app_a', password: 'pw' }),
    'postgres://app_a:pw@postgresql-ab:5432/app',
  );
  assert.equal(
    serviceUrl('redis', 'redis-ab', { user: 'default', password: 'pw' }),
    'redis://default:pw@redis-ab:6379',
  );
  assert.equal(
    serviceEnv('postgres', PLANS.small, { user: 'app_a', password: 'pw' }).SLIPWAY_PG_SHARED_BUFFERS,
    '64MB',
  );
  assert.equal(serviceEnv('redis', PLANS.large, { user: 'default', password: 'pw' }).SLIPWAY_REDIS_MAXMEMORY, '3072mb');
});
