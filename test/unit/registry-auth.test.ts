import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../common/config';
import { checkBasicAuth, newRegistryToken } from '../../server/images/registry-auth';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

test('registry Basic auth: only user slipway with the exact token passes', () => {
  const token = newRegistryToken();
  assert.match(token, /^[0-9a-f]{64}$/);
  assert.notEqual(token, newRegistryToken());
  assert.equal(checkBasicAuth(basic('slipway', token), token), true);
  assert.equal(checkBasicAuth(`basic  ${Buffer.from(`slipway:${token}`).toString('base64')}`, token), true);
  for (const header of [
    undefined,
    '',
    'Bearer x',
    basic('slipway', `${token}x`),
    basic('slipway', token.slice(1)),
    basic('admin', token),
    basic('slipway', ''),
    'Basic !!!',
  ]) {
    assert.equal(checkBasicAuth(header, token), false, String(header));
  }
  // An empty token (a server that failed to make one) never opens the registry.
  assert.equal(checkBasicAuth(basic('slipway', ''), ''), false);
});

test('network settings: SLIPWAY_NETWORK_POOL and SLIPWAY_FIREWALL with their defaults', () => {
  assert.equal(loadConfig({}).networkPool, '10.213.0.0/16');
  assert.equal(loadConfig({}).firewall, true);
  assert.equal(loadConfig({ SLIPWAY_FIREWALL: 'off' }).firewall, false);
  assert.equal(loadConfig({ SLIPWAY_NETWORK_POOL: '10.50.0.0/20' }).networkPool, '10.50.0.0/20');
  assert.throws(() => loadConfig({ SLIPWAY_FIREWALL: 'maybe' }), /SLIPWAY_FIREWALL="maybe" is not on or off/);
});
