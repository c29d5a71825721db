import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openDatabase, migrate } from '../../server/state/db';
import { migrations } from '../../server/state/migrations';
import { createEventsRepo } from '../../server/state/repos/events';
import { tmpDir } from '../helpers/home';

test("migration 70 gives older events their app id: the current app of that name gets its own, not a destroyed namesake's", () => {
  const dir = tmpDir();
  const db = openDatabase(
    path.join(dir, 's.db'),
    migrations.filter((m) => m.version < 70),
  );
  db.prepare("INSERT INTO users (id, email) VALUES (1, 'a@example.com')").run();
  // Events of an earlier app "web" (destroyed: its rows are gone, the events keep the name) ...
  db.prepare(
    "INSERT INTO events (app_name, actor, action, message, created_at) VALUES ('web', 'a', 'config.update', 'old app', '2026-01-01T00:00:00.000Z')",
  ).run();
  db.prepare(
    "INSERT INTO events (app_name, actor, action, message, created_at) VALUES ('web', 'a', 'app.destroy', 'App web destroyed', '2026-01-02T00:00:00.000Z')",
  ).run();
  // ... then a new app "web" and its events, recorded by name only.
  db.prepare(
    "INSERT INTO apps (id, name, owner_id, created_at) VALUES (7, 'web', 1, '2026-02-01T00:00:00.000Z')",
  ).run();
  db.prepare(
    "INSERT INTO events (app_name, actor, action, message, created_at) VALUES ('web', 'a', 'app.create', 'new app', '2026-02-01T00:00:01.000Z')",
  ).run();
  // Only up to 70: later migrations (80 metrics and dashboard sessions, 90 add-ons) are not this test's subject.
  assert.deepEqual(
    migrate(
      db,
      migrations.filter((m) => m.version <= 70),
    ),
    [70],
  );
  const events = createEventsRepo(db);
  assert.deepEqual(
    events.list({ appId: 7 }).map((e) => e.message),
    ['new app'],
  );
  assert.equal(events.list().length, 3, 'the platform-wide trail keeps everything');
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
