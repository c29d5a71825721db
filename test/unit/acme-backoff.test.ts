import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../common/config';
import { nextAttempt } from '../../server/acme/manager';

const config = loadConfig({ SLIPWAY_ACME_EMAIL: 'ops@example.com' }).acme!;
const HOUR = 3600 * 1000;
const now = Date.parse('2026-11-30T12:00:00Z');

test("ACME settings: off without an email, Let's Encrypt production by default, renew 30 days ahead, daily checks", () => {
  assert.equal(loadConfig({}).acme, null);
  assert.equal(config.directoryUrl, 'https://acme-v02.api.letsencrypt.org/directory');
  assert.equal(config.renewBeforeDays, 30);
  assert.equal(config.checkIntervalMs, 24 * HOUR);
  assert.throws(() => loadConfig({ SLIPWAY_ACME_EMAIL: 'not-an-email' }), /SLIPWAY_ACME_EMAIL/);
  assert.throws(
    () => loadConfig({ SLIPWAY_ACME_EMAIL: 'a@b.example', SLIPWAY_ACME_DIRECTORY_URL: 'http://insecure/dir' }),
    /https URL/,
  );
});

test('a failing domain backs off exponentially from one hour up to one day', () => {
  const delays = [0, 1, 2, 3, 4, 5, 10].map(
    (f) => (nextAttempt(config, f, 'connection refused', now).getTime() - now) / HOUR,
  );
  assert.deepEqual(delays, [1, 2, 4, 8, 16, 24, 24]);
});

test('a rate-limit "retry after" time from the CA is respected when later than the back-off', () => {
  const msg =
    'too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-12-02 08:30:00 UTC: see https://letsencrypt.org/docs/rate-limits/';
  assert.equal(nextAttempt(config, 0, msg, now).toISOString(), '2026-12-02T08:30:00.000Z');
  const soon = 'rate limited, retry after 2026-11-30 12:05:00 UTC';
  assert.equal(nextAttempt(config, 0, soon, now).getTime() - now, HOUR, 'never earlier than the back-off');
});
