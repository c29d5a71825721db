import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../common/config';
import { blobsEligible } from '../../server/images/registry-gc';
import { pushSummary } from '../../server/images/registry-push';
import { appOfStoreRef } from '../../server/images/platform-registry';

test('the platform registry is off by default, on with SLIPWAY_REGISTRY=on or the swarm runtime; its address and name are checked', () => {
  assert.equal(loadConfig({}).platformRegistry, null);
  assert.deepEqual(loadConfig({ SLIPWAY_REGISTRY: 'on' }).platformRegistry, {
    addr: '127.0.0.1:5000',
    name: '127.0.0.1:5000',
  });
  assert.ok(loadConfig({ SLIPWAY_RUNTIME: 'swarm' }).platformRegistry, 'implied by the swarm runtime');
  assert.equal(loadConfig({ SLIPWAY_RUNTIME: 'swarm', SLIPWAY_REGISTRY: 'off' }).platformRegistry, null);
  // Listening on every address: nodes dial a name the platform certificate (*.DOMAIN) covers.
  assert.deepEqual(
    loadConfig({ SLIPWAY_REGISTRY: 'on', SLIPWAY_REGISTRY_ADDR: '0.0.0.0:5000', SLIPWAY_DOMAIN: 'apps.example.com' })
      .platformRegistry,
    { addr: '0.0.0.0:5000', name: 'registry.apps.example.com:5000' },
  );
  assert.equal(
    loadConfig({ SLIPWAY_REGISTRY: 'on', SLIPWAY_REGISTRY_NAME: 'Reg.Example.com:443' }).platformRegistry?.name,
    'reg.example.com:443',
  );
  assert.throws(
    () => loadConfig({ SLIPWAY_REGISTRY: 'on', SLIPWAY_REGISTRY_ADDR: 'localhost' }),
    (e: Error & { hint?: string }) => /not host:port/.test(e.message) && /0\.0\.0\.0:5000/.test(e.hint ?? ''),
  );
  assert.throws(() => loadConfig({ SLIPWAY_REGISTRY: 'maybe' }), /is not on or off/);
  assert.deepEqual(loadConfig({ SLIPWAY_KEEP_RELEASES: '2', SLIPWAY_GC_AFTER_DEPLOY_S: '5' }).gc, {
    keepReleases: 2,
    afterDeployMs: 5000,
  });
});

test("the push line counts uploaded layers, bytes and reused blobs; GC reads garbage-collect's summary", () => {
  const r = {
    ref: 'x',
    bytesUploaded: 1_234_567,
    blobsUploaded: 3,
    blobsMounted: 2,
    blobsSkipped: 3,
    layersUploaded: 2,
  };
  assert.equal(pushSummary(r), '2 layers, 1.2 MB; 5 reused');
  assert.equal(pushSummary({ ...r, bytesUploaded: 4307, layersUploaded: 1 }), '1 layer, 4.3 KB; 5 reused');
  assert.equal(blobsEligible('...\n12 blobs marked, 3 blobs and 1 manifests eligible for deletion\n'), 3);
  assert.equal(blobsEligible('nothing to say'), 0);
  assert.equal(appOfStoreRef('apps/web-1:0b5e2c'), 'web-1');
  assert.equal(appOfStoreRef(`apps/web-1@sha256:${'a'.repeat(64)}`), 'web-1');
  assert.throws(() => appOfStoreRef('stacks/bookworm-run:latest'), /not an app image reference/);
});
