import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { homePaths } from '../../common/config';
import { createLogHub, LINES_PER_APP } from '../../server/logs/hub';
import { formatLogEntry } from '../../server/logs/format';
import type { LogEntry } from '../../server/logs/types';
import { tmpDir } from '../helpers/home';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const routerLine = (app: string, p: string) =>
  `${new Date().toISOString()} ${app} at=info method=GET path="${p}" host=${app}.localhost request_id=r fwd="127.0.0.1" dyno=web.1 connect=1ms service=1ms status=200 bytes=2 protocol=http\n`;

test('keeps the last 1,500 lines per app on disk, bounded, and they survive a restart', async () => {
  const dir = tmpDir('slipway-logs-');
  const paths = homePaths(dir);
  const hub = createLogHub({ paths });
  for (let i = 0; i < 4000; i++) hub.write('big-app', { source: 'app', dyno: `web.${(i % 2) + 1}`, line: `line ${i}` });
  hub.write('other-app', { source: 'api', dyno: 'api', line: 'Release v1 created by ana@example.com' });
  const mem = hub.tail('big-app', { lines: 5000 });
  assert.equal(mem.length, LINES_PER_APP);
  assert.equal(mem[0].line, `line ${4000 - LINES_PER_APP}`);
  assert.equal(mem.at(-1)!.line, 'line 3999');
  hub.close();
  const file = path.join(paths.logs, 'apps', 'big-app.ndjson');
  const onDisk = fs.readFileSync(file, 'utf8').trim().split('\n').length;
  assert.ok(onDisk <= 2 * LINES_PER_APP, `file holds ${onDisk} lines`);

  // A "restart": a new hub over the same home sees the same lines.
  const again = createLogHub({ paths });
  const restored = again.tail('big-app', { lines: LINES_PER_APP });
  assert.deepEqual(
    restored.map((e) => e.line),
    mem.map((e) => e.line),
  );
  assert.equal(again.tail('other-app')[0].line, 'Release v1 created by ana@example.com');
  // Filters: by process type, dyno, source; -n.
  assert.ok(again.tail('big-app', { dyno: 'web.2', lines: 10 }).every((e) => e.dyno === 'web.2'));
  assert.equal(again.tail('big-app', { dyno: 'web', lines: 10 }).length, 10);
  assert.equal(again.tail('big-app', { dyno: 'worker' }).length, 0);
  assert.equal(again.tail('big-app', { source: 'router' }).length, 0);
  assert.equal(again.tail('big-app', { lines: 3 }).length, 3);
  again.forget('big-app');
  assert.equal(fs.existsSync(file), false);
  assert.equal(again.tail('big-app').length, 0);
  again.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('subscribers get lines at once; multi-line writes become one entry per line; long lines are cut', () => {
  const dir = tmpDir('slipway-logs-');
  const hub = createLogHub({ paths: homePaths(dir) });
  const got: LogEntry[] = [];
  const stop = hub.subscribe('live-app', (e) => got.push(e));
  hub.write('live-app', { source: 'app', dyno: 'web.1', line: 'Error: boom\n    at main (server.js:1)\n' });
  hub.write('live-app', { source: 'app', dyno: 'web.1', line: 'x'.repeat(20_000) });
  hub.write('Not_An_App', { source: 'app', dyno: 'web.1', line: 'dropped' });
  stop();
  hub.write('live-app', { source: 'app', dyno: 'web.1', line: 'after unsubscribe' });
  assert.deepEqual(
    got.slice(0, 2).map((e) => e.line),
    ['Error: boom', '    at main (server.js:1)'],
  );
  assert.ok(got[2].line.length <= 10_001);
  assert.equal(got.length, 3);
  assert.match(formatLogEntry(got[0]), /^\d{4}-\d\d-\d\dT[\d:.]+Z app\[web\.1\]: Error: boom$/);
  assert.match(formatLogEntry({ ...got[0], source: 'router', dyno: 'router' }), / slipway\[router\]: /);
  hub.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the router access log is tailed as source router, across rotation and a server restart', async () => {
  const dir = tmpDir('slipway-logs-');
  const paths = homePaths(dir);
  fs.mkdirSync(paths.logs, { recursive: true });
  const access = path.join(paths.logs, 'router-access.log');
  let hub = createLogHub({ paths, routerPollMs: 50 });
  const got: LogEntry[] = [];
  hub.subscribe('web-app', (e) => got.push(e));
  fs.appendFileSync(access, routerLine('web-app', '/one'));
  const t0 = Date.now();
  while (got.length < 1 && Date.now() - t0 < 2000) await wait(10);
  assert.equal(got.length, 1);
  assert.equal(got[0].source, 'router');
  assert.equal(got[0].dyno, 'router');
  assert.match(got[0].line, /^at=info method=GET path="\/one"/);
  console.log(`# router line reached a subscriber in ${Date.now() - t0} ms (poll 50 ms)`);

  // Rotation: lines written just before the rename are still delivered, then the new file's.
  fs.appendFileSync(access, routerLine('web-app', '/two'));
  fs.renameSync(access, `${access}.1`);
  fs.appendFileSync(access, routerLine('web-app', '/three'));
  await wait(300);
  assert.deepEqual(
    hub.tail('web-app').map((e) => /path="([^"]+)"/.exec(e.line)![1]),
    ['/one', '/two', '/three'],
  );

  // Lines written while the server is down arrive after its restart, exactly once.
  hub.close();
  fs.appendFileSync(access, routerLine('web-app', '/four'));
  hub = createLogHub({ paths, routerPollMs: 50 });
  await wait(300);
  assert.deepEqual(
    hub.tail('web-app').map((e) => /path="([^"]+)"/.exec(e.line)![1]),
    ['/one', '/two', '/three', '/four'],
  );
  // Lines for unknown or invalid app names are dropped, not stored.
  fs.appendFileSync(access, `${new Date().toISOString()} - at=error code=H99 status=404\n`);
  await wait(200);
  assert.equal(fs.readdirSync(path.join(paths.logs, 'apps')).filter((f) => f.startsWith('-')).length, 0);
  hub.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
