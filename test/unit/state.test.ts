import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, migrate } from '../../server/state/db';
import { migrations } from '../../server/state/migrations';
import { openState } from '../../server/state';
import { tmpDir } from '../helpers/home';

test('migrations apply to an empty database, then again as a no-op', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'state.db');
  const db = openDatabase(file);
  const versions = (
    db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>
  ).map((r) => r.version);
  assert.deepEqual(
    versions,
    migrations.map((m) => m.version),
  );
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.deepEqual(migrate(db), [], 'second run applies nothing');
  db.close();
  // Reopening (a server restart) applies nothing either and keeps the data.
  const again = new Database(file);
  assert.deepEqual(migrate(again), []);
  again.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('releases are immutable except their deploy status', () => {
  const dir = tmpDir();
  const state = openState({ dbFile: path.join(dir, 's.db'), keyFile: path.join(dir, 'k') });
  const user = state.users.create('ana@example.com', true);
  const app = state.apps.create({ name: 'immutable-app', ownerId: user.id, stack: 'bookworm' });
  state.db
    .prepare("INSERT INTO releases (app_id, version, config_enc, description) VALUES (?, 1, x'00', 'first')")
    .run(app.id);
  state.db.prepare("UPDATE releases SET status = 'succeeded' WHERE app_id = ?").run(app.id);
  assert.throws(
    () => state.db.prepare("UPDATE releases SET image_digest = 'x' WHERE app_id = ?").run(app.id),
    /immutable/,
  );
  state.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('config values are encrypted at rest and tokens stored only as hashes', () => {
  const dir = tmpDir();
  const dbFile = path.join(dir, 's.db');
  const state = openState({ dbFile, keyFile: path.join(dir, 'secret.key') });
  assert.equal(fs.statSync(path.join(dir, 'secret.key')).mode & 0o777, 0o600);
  const user = state.users.create('ana@example.com');
  const app = state.apps.create({ name: 'secret-app', ownerId: user.id, stack: 'bookworm' });
  state.configVars.update(app.id, { DATABASE_URL: 'postgres://very-secret-value@db/x' });
  assert.deepEqual(state.configVars.all(app.id), { DATABASE_URL: 'postgres://very-secret-value@db/x' });
  const { secret } = state.users.createToken(user.id, 'test');
  assert.equal(state.users.authenticate(secret)?.user.email, 'ana@example.com');
  state.db.pragma('wal_checkpoint(TRUNCATE)');
  state.db.close();
  const bytes = fs.readFileSync(dbFile);
  assert.equal(bytes.includes('very-secret-value'), false, 'config value in clear text in the database');
  assert.equal(bytes.includes(secret), false, 'token secret in the database');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a revoked token stops authenticating at once', () => {
  const dir = tmpDir();
  const state = openState({ dbFile: path.join(dir, 's.db'), keyFile: path.join(dir, 'k') });
  const user = state.users.create('bo@example.com');
  const { token, secret } = state.users.createToken(user.id);
  assert.ok(state.users.authenticate(secret));
  assert.equal(state.users.revokeToken(user.id, token.id), true);
  assert.equal(state.users.authenticate(secret), undefined);
  assert.equal(state.users.authenticate('slw_not-a-token'), undefined);
  state.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
