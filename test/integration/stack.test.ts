import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { stackImageName } from '../../stacks/builder';
import { createTestHome } from '../helpers/home';

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', timeout: 120_000 }).trim();
const CA = '/etc/ssl/certs/ca-certificates.crt';

test('a container of the run image runs as uid 1000 by default', () => {
  assert.equal(
    docker('run', '--rm', '--label', 'io.slipway.test=1', stackImageName('bookworm', 'run'), 'id', '-u'),
    '1000',
  );
  assert.equal(docker('run', '--rm', stackImageName('bookworm', 'run'), 'pwd'), '/app');
});

test('the build image carries the CNB stack labels and env', () => {
  const labels = JSON.parse(docker('inspect', '-f', '{{json .Config.Labels}}', stackImageName('bookworm', 'build')));
  assert.equal(labels['io.buildpacks.stack.id'], 'io.buildpacks.stacks.bookworm');
  const env = docker('inspect', '-f', '{{json .Config.Env}}', stackImageName('bookworm', 'build'));
  for (const v of ['CNB_USER_ID=1000', 'CNB_GROUP_ID=1000', 'CNB_STACK_ID=io.buildpacks.stacks.bookworm'])
    assert.ok(env.includes(v), v);
});

test('a build container reaches the npm registry over HTTPS with the host CA bundle mounted', () => {
  const out = docker(
    'run',
    '--rm',
    '-v',
    `${CA}:${CA}:ro`,
    stackImageName('bookworm', 'build'),
    'curl',
    '-sS',
    '--max-time',
    '30',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    'https://registry.npmjs.org/semver',
  );
  assert.equal(out, '200');
});

test('the stack images are in the platform OCI store with their layers', async () => {
  const home = await createTestHome('stack');
  try {
    for (const kind of ['build', 'run'] as const) {
      const d = await home.store.resolve(`stacks/bookworm-${kind}:latest`);
      assert.ok(d, `stacks/bookworm-${kind}:latest tagged`);
      const m = await home.store.readManifest(d!.digest);
      assert.ok(m.layers.length >= 1);
      for (const l of m.layers) assert.ok(home.store.hasBlob(l.digest));
      // The image Docker runs is the one in the store (same config digest = same image ID).
      assert.equal(docker('inspect', '-f', '{{.Id}}', stackImageName('bookworm', kind)), m.config.digest);
    }
  } finally {
    home.cleanup();
  }
});

test('the trixie stack: Debian 13 images from the same recipe, uid 1000, its own stack id and distro version', () => {
  assert.equal(
    docker('run', '--rm', '--label', 'io.slipway.test=1', stackImageName('trixie', 'run'), 'id', '-u'),
    '1000',
  );
  assert.match(docker('run', '--rm', stackImageName('trixie', 'run'), 'cat', '/etc/debian_version'), /^13\./);
  for (const kind of ['build', 'run'] as const) {
    const labels = JSON.parse(docker('inspect', '-f', '{{json .Config.Labels}}', stackImageName('trixie', kind)));
    assert.equal(labels['io.buildpacks.stack.id'], 'io.buildpacks.stacks.trixie');
    assert.equal(labels['io.buildpacks.stack.distro.version'], '13');
  }
  // Headers for native Python wheels are in the build image.
  assert.match(
    docker('run', '--rm', stackImageName('trixie', 'build'), 'ls', '/usr/include/python3.13/Python.h'),
    /Python\.h/,
  );
});
