import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openImageStore } from '../../buildpacks/oci/layout';
import { collectStoreGarbage } from '../../server/images/gc';

test('store GC keeps a rebase tag still in flight (no release names it yet) and removes a stale one', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-gc-'));
  try {
    const store = openImageStore(root);
    const config = await store.putJson(
      { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } },
      'application/vnd.oci.image.config.v1+json',
    );
    const manifest = await store.putJson(
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [] },
      'application/vnd.oci.image.manifest.v1+json',
    );
    const now = Date.now();
    const fresh = `apps/shop:rebase-3-${(now - 5_000).toString(36)}`;
    const stale = `apps/shop:rebase-2-${(now - 2 * 3600_000).toString(36)}`;
    const build = 'apps/shop:0b1c';
    for (const ref of [fresh, stale, build]) await store.tag(ref, manifest);
    const r = await collectStoreGarbage(store, [], { graceMs: 60 * 60_000, now });
    assert.deepEqual(r.untagged.sort(), [build, stale].sort());
    assert.ok(await store.resolve(fresh), 'the rebase in flight lost its image');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
