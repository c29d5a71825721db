import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openState } from '../../server/state';
import { tmpDir } from '../helpers/home';

function withState(fn: (state: ReturnType<typeof openState>, appId: number) => void): void {
  const dir = tmpDir();
  const state = openState({ dbFile: path.join(dir, 's.db'), keyFile: path.join(dir, 'k') });
  try {
    const user = state.users.create('rt@example.com');
    const app = state.apps.create({ name: 'rt-app', ownerId: user.id, stack: 'bookworm' });
    fn(state, app.id);
  } finally {
    state.db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const base = {
  buildId: null,
  imageDigest: 'sha256:' + 'a'.repeat(64),
  imageRef: 'apps/rt-app:b1',
  processTypes: { web: 'node server.js' },
  description: 'Deploy b1',
  userId: null,
};

test('release versions count up per app; config snapshots are sealed and read back with configOf', () => {
  withState((state, appId) => {
    const v1 = state.releases.create(appId, {
      ...base,
      config: { SECRET: 's3cret' },
      appJson: { healthchecks: { web: [{ path: '/' }] } },
    });
    const v2 = state.releases.create(appId, { ...base, config: {} });
    assert.deepEqual([v1.version, v2.version], [1, 2]);
    assert.equal(v1.status, 'pending');
    assert.deepEqual(v1.appJson, { healthchecks: { web: [{ path: '/' }] } });
    assert.deepEqual(state.releases.configOf(v1), { SECRET: 's3cret' });
    const raw = state.db.prepare('SELECT config_enc FROM releases WHERE id = ?').get(v1.id) as { config_enc: Buffer };
    assert.equal(raw.config_enc.includes(Buffer.from('s3cret')), false, 'sealed at rest');
    assert.deepEqual(
      state.releases.list(appId).map((r) => r.version),
      [2, 1],
    );
    assert.throws(() => state.releases.require(appId, 9, 'rt-app'), /has no release v9/);
  });
});

test('releases stay immutable (app_json included); only status changes', () => {
  withState((state, appId) => {
    const v1 = state.releases.create(appId, { ...base, config: {} });
    state.releases.setStatus(v1.id, 'succeeded');
    assert.equal(state.releases.getById(v1.id)!.status, 'succeeded');
    assert.throws(() => state.db.prepare("UPDATE releases SET app_json = '{}' WHERE id = ?").run(v1.id), /immutable/);
    assert.throws(() => state.db.prepare("UPDATE releases SET image_ref = 'x' WHERE id = ?").run(v1.id), /immutable/);
  });
});

test('formation: seeding never overrides a scale; sizes and quantities update independently', () => {
  withState((state, appId) => {
    state.formation.seed(appId, 'web', 1, 'standard-1x');
    state.formation.setQuantities(appId, { web: 3, worker: 2 }, 'standard-1x');
    state.formation.seed(appId, 'web', 1, 'eco');
    state.formation.setSize(appId, 'worker', 'eco');
    state.formation.setSize(appId, 'clock', 'basic');
    assert.deepEqual(state.formation.list(appId), [
      { type: 'clock', quantity: 0, size: 'basic' },
      { type: 'web', quantity: 3, size: 'standard-1x' },
      { type: 'worker', quantity: 2, size: 'eco' },
    ]);
    assert.throws(() => state.formation.setQuantities(appId, { web: 101 }, 'eco'), /CHECK/);
  });
});
