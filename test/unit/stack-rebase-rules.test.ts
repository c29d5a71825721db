import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffPackages, diffSummary, parsePackages } from '../../server/images/packages';
import { rebaseRefusal } from '../../server/images/rebase';

test('package lists: parsed from dpkg-query lines and diffed into updated, added and removed', () => {
  const a = parsePackages('libc6 2.36-9+deb12u8\nopenssl 3.0.15-1~deb12u1\nold-tool 1.0\n\n');
  const b = parsePackages('libc6 2.36-9+deb12u9\nopenssl 3.0.15-1~deb12u1\nnew-tool 2.0\n');
  const d = diffPackages(a, b);
  assert.deepEqual(d.updated, [{ name: 'libc6', from: '2.36-9+deb12u8', to: '2.36-9+deb12u9' }]);
  assert.deepEqual(d.added, [{ name: 'new-tool', version: '2.0' }]);
  assert.deepEqual(d.removed, [{ name: 'old-tool', version: '1.0' }]);
  assert.equal(diffSummary(d), '1 package updated, 1 added, 1 removed');
  assert.equal(diffSummary(diffPackages(a, a)), '0 packages updated');
});

test('rebase refusals: no lifecycle metadata, io.buildpacks.rebasable=false, a launch layer with rebasable = false', () => {
  const meta = (layers: Record<string, unknown>) =>
    JSON.stringify({ buildpacks: [{ key: 'test/native', layers }], runImage: { topLayer: 'sha256:x' } });
  assert.match(rebaseRefusal({})!, /not built by buildpacks/);
  assert.match(
    rebaseRefusal({ 'io.buildpacks.lifecycle.metadata': meta({}), 'io.buildpacks.rebasable': 'false' })!,
    /rebasable=false/,
  );
  assert.match(
    rebaseRefusal({ 'io.buildpacks.lifecycle.metadata': meta({ ext: { launch: true, data: { rebasable: false } } }) })!,
    /test\/native marked its launch layer "ext"/,
  );
  // Only launch layers count (a build-only layer never reaches the image), and only an explicit false.
  assert.equal(
    rebaseRefusal({ 'io.buildpacks.lifecycle.metadata': meta({ ext: { launch: false, data: { rebasable: false } } }) }),
    undefined,
  );
  assert.equal(
    rebaseRefusal({ 'io.buildpacks.lifecycle.metadata': meta({ ext: { launch: true, data: { rebasable: 'no' } } }) }),
    undefined,
  );
  assert.equal(
    rebaseRefusal({ 'io.buildpacks.lifecycle.metadata': meta({}), 'io.buildpacks.rebasable': 'true' }),
    undefined,
  );
});
