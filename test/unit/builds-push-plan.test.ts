import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRefUpdates, planPush } from '../../server/git/push-plan';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

test('a push of main or master builds its new commit, force pushes included', () => {
  assert.deepEqual(planPush(parseRefUpdates(`${Z} ${A} refs/heads/main\n`), null, 'my-app'), {
    ok: true,
    build: { rev: A, branch: 'main', oldRev: Z, ref: 'refs/heads/main' },
  });
  assert.deepEqual(planPush(parseRefUpdates(`${A} ${B} refs/heads/master\n`), null, 'my-app'), {
    ok: true,
    build: { rev: B, branch: 'master', oldRev: A, ref: 'refs/heads/master' },
  });
});

test('another branch is refused with a message naming the deploy branch', () => {
  const plan = planPush(parseRefUpdates(`${Z} ${A} refs/heads/feature\n`), null, 'my-app');
  assert.equal(plan.ok, false);
  const text = plan.ok ? '' : plan.lines.join('\n');
  assert.match(text, /Pushed to feature: this app deploys from main or master only/);
  assert.match(text, /git push slipway feature:main/);
  assert.match(text, /Push rejected to my-app/);
});

test('a configured deploy branch replaces main and master', () => {
  assert.equal(planPush(parseRefUpdates(`${Z} ${A} refs/heads/main\n`), 'production', 'my-app').ok, false);
  assert.deepEqual(planPush(parseRefUpdates(`${Z} ${A} refs/heads/production\n`), 'production', 'my-app'), {
    ok: true,
    build: { rev: A, branch: 'production', oldRev: Z, ref: 'refs/heads/production' },
  });
});

test('deleting the deploy branch, tags and two deploy branches at once are refused', () => {
  assert.equal(planPush(parseRefUpdates(`${A} ${Z} refs/heads/main`), null, 'my-app').ok, false);
  assert.equal(planPush(parseRefUpdates(`${Z} ${A} refs/tags/v1`), null, 'my-app').ok, false);
  assert.equal(
    planPush(parseRefUpdates(`${Z} ${A} refs/heads/main\n${Z} ${B} refs/heads/master`), null, 'my-app').ok,
    false,
  );
});

test('malformed hook input is an error, not a build', () => {
  assert.throws(() => parseRefUpdates('nonsense refs/heads/main'));
  assert.throws(() => parseRefUpdates(`${A} $(reboot) refs/heads/main`));
});
