import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { createTestHome, type TestHome } from '../helpers/home';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const name = `slipway-test-cli-${randomBytes(3).toString('hex')}:dev`;
let home: TestHome;

before(async () => {
  home = await createTestHome('lccli');
});
after(() => {
  spawnSync('docker', ['rmi', '-f', name], { stdio: 'ignore' });
  home?.cleanup();
});

test('slipway build DIR --tag NAME builds locally, prints Heroku-style steps with timings, and loads NAME into Docker', () => {
  const r = spawnSync(
    'node',
    [
      CLI,
      'build',
      path.join(ROOT, 'test', 'fixtures', 'apps', 'lifecycle-hello'),
      '--tag',
      name,
      '-b',
      path.join(ROOT, 'test', 'fixtures', 'buildpacks', 'cnb-greeter'),
    ],
    {
      env: { ...process.env, SLIPWAY_HOME: home.home },
      encoding: 'utf8',
      timeout: 300_000,
    },
  );
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^-----> Running Greeter \(test\/greeter@1\.0\.0\)$/m);
  assert.match(r.stdout, /^       Creating tool layer$/m);
  assert.match(r.stdout, /detect \d+ ms, restore \d+ ms, build \d+ ms, export \d+ ms/);
  const out = execFileSync('docker', ['run', '--rm', '--label', `io.slipway.home=${home.home}`, name], {
    encoding: 'utf8',
    timeout: 60_000,
  }).trim();
  assert.equal(out, 'hello from greet: world');
});

test('slipway build without --tag explains its usage and exits non-zero', () => {
  const r = spawnSync('node', [CLI, 'build', '.'], {
    env: { ...process.env, SLIPWAY_HOME: home.home },
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /needs DIR and --tag NAME/);
  assert.match(r.stderr, /usage: slipway build DIR --tag NAME/);
});
