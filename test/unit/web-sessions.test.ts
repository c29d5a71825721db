import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openState } from '../../server/state';
import { createWebSessionsRepo } from '../../server/state/repos/web-sessions';
import { chooseStep, parseTime } from '../../server/api/metrics';
import { tmpDir } from '../helpers/home';

test('a one-time sign-in code works once, expires, and dies with its token; only hashes are stored', () => {
  const dir = tmpDir();
  const state = openState({ dbFile: path.join(dir, 's.db'), keyFile: path.join(dir, 'k') });
  const user = state.users.create('ana@example.com', true);
  const { token } = state.users.createToken(user.id, 'cli');
  const repo = createWebSessionsRepo(state.db);
  const now = Date.now();

  const a = repo.createCode(token.id, 300_000, now);
  assert.equal(repo.consumeCode(a.code, now + 1000), token.id);
  assert.equal(repo.consumeCode(a.code, now + 2000), undefined, 'second use refused');
  const b = repo.createCode(token.id, 300_000, now);
  assert.equal(repo.consumeCode(b.code, now + 300_001), undefined, 'expired');
  const c = repo.createCode(token.id, 300_000, now);

  const s = repo.create(token.id, 3_600_000, now);
  assert.equal(repo.get(s.secret, now + 1000)?.user.email, 'ana@example.com');
  assert.equal(repo.get(s.secret, now + 3_600_001), undefined, 'session expired');
  const dump =
    fs.readFileSync(path.join(dir, 's.db')).toString('latin1') +
    (fs.existsSync(path.join(dir, 's.db-wal')) ? fs.readFileSync(path.join(dir, 's.db-wal')).toString('latin1') : '');
  for (const secret of [c.code, s.secret]) assert.ok(!dump.includes(secret), 'secrets are stored hashed');

  state.users.revokeToken(user.id, token.id);
  assert.equal(repo.get(s.secret, now + 1000), undefined, 'revoking the token ends the session');
  assert.equal(repo.consumeCode(c.code, now + 1000), undefined, 'and its codes');
  const s2 = repo.create(token.id, 3_600_000, now);
  repo.remove(s2.secret);
  assert.equal(repo.get(s2.secret, now), undefined);
  state.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('metrics query parameters: durations, steps in whole minutes, hours past the minute retention', () => {
  const now = 1_800_000_000;
  assert.equal(parseTime('1h', now, 'since'), now - 3600);
  assert.equal(parseTime('7d', now, 'since'), now - 7 * 86400);
  assert.equal(parseTime('1796000000', now, 'since'), 1796000000);
  assert.equal(parseTime('2027-01-15T00:00:00Z', now, 'since'), Date.parse('2027-01-15T00:00:00Z') / 1000);
  assert.throws(() => parseTime('yesterday', now, 'since'), /not a time/);
  assert.equal(chooseStep(now - 3600, now, now), 60);
  assert.equal(chooseStep(now - 86400 + 3600, now, now), 720);
  assert.equal(chooseStep(now - 7 * 86400, now, now), 3600 * 2);
  assert.equal(chooseStep(now - 7 * 86400, now, now, '1m'), 3600, 'minutes are gone after 24 h');
  assert.equal(chooseStep(now - 3600, now, now, '5m'), 300);
  assert.throws(() => chooseStep(now - 3600, now, now, '90s'), /whole number of minutes/);
});
