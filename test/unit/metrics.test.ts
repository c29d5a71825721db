import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openState } from '../../server/state';
import { createMetricsRepo } from '../../server/state/repos/metrics';
import { createMetrics } from '../../server/metrics';
import { ALPHA, add, decode, encode, merge, newSketch, quantile } from '../../server/metrics/sketch';
import { parseRouterLine } from '../../server/metrics/router-line';
import { tmpDir } from '../helpers/home';

const line = (status: number, service: number, bytes: number, code?: string) =>
  `${code ? `at=error code=${code} desc="x" ` : 'at=info '}method=GET path="/a status=999" host=a.localhost request_id=r fwd="127.0.0.1" dyno=web.1 connect=1ms service=${service}ms status=${status} bytes=${bytes} protocol=http`;

test('the sketch answers quantiles within its relative error, merges exactly and round-trips', () => {
  const values = Array.from({ length: 5000 }, (_, i) => 1 + ((i * 7919) % 2000) * 1.7);
  const whole = newSketch();
  const a = newSketch();
  const b = newSketch();
  values.forEach((v, i) => {
    add(whole, v);
    add(i % 2 ? a : b, v);
  });
  const sorted = [...values].sort((x, y) => x - y);
  for (const q of [0.5, 0.95, 0.99]) {
    const exact = sorted[Math.ceil(q * sorted.length) - 1];
    const got = quantile(whole, q)!;
    assert.ok(Math.abs(got - exact) / exact <= ALPHA + 0.001, `q${q}: ${got} vs ${exact}`);
  }
  const merged = merge(decode(encode(a)), decode(encode(b)));
  assert.equal(merged.total, 5000);
  for (const q of [0.5, 0.95, 0.99]) assert.equal(quantile(merged, q), quantile(whole, q));
  assert.ok(whole.counts.size < 500, `bounded: ${whole.counts.size} buckets`);
  assert.equal(quantile(newSketch(), 0.5), null);
});

test('router lines parse from the end (a path cannot fake the fields) and keep H codes', () => {
  assert.deepEqual(parseRouterLine(line(200, 12, 532)), { status: 200, ms: 13, bytes: 532, code: null });
  assert.deepEqual(parseRouterLine(line(503, 0, 0, 'H12')), { status: 503, ms: 1, bytes: 0, code: 'H12' });
  assert.equal(parseRouterLine('garbage'), null);
});

test('per-minute buckets: counts by class, rolled up per hour, retention drops old rows, destroy drops the app', () => {
  const dir = tmpDir();
  const state = openState({ dbFile: path.join(dir, 's.db'), keyFile: path.join(dir, 'k') });
  const owner = state.users.create('ana@example.com', true);
  const app = state.apps.create({ name: 'shop', ownerId: owner.id, stack: 'bookworm' });
  const repo = createMetricsRepo(state.db);
  const m = createMetrics({
    repo,
    appId: (n) => state.apps.get(n)?.id,
    settings: { enabled: true, dynoSampleMs: 10_000, flushMs: 10_000 },
  });
  const now = Date.now();
  const t0 = new Date(Math.floor(now / 3_600_000) * 3_600_000 - 2 * 3_600_000); // two hours ago, on the hour
  for (let i = 0; i < 100; i++)
    m.recordRouterLine('shop', new Date(t0.getTime() + i * 1000), line(i < 90 ? 200 : i < 95 ? 404 : 500, i, 100));
  m.recordRouterLine('shop', new Date(t0.getTime() + 5000), line(503, 30000, 0, 'H12'));
  m.recordRouterLine('nosuchapp', t0, line(200, 1, 1));
  m.recordDynos(
    [
      { app: 'shop', ptype: 'web', cpu: 50, memory: 100 },
      { app: 'shop', ptype: 'web', cpu: 10, memory: 300 },
    ],
    t0,
  );

  const since = Math.floor(t0.getTime() / 1000);
  const r = m.query(app.id, { since, until: since + 180, step: 60 });
  assert.deepEqual(r.requests, [61, 40, 0]);
  assert.equal(r.summary.s2xx, 90);
  assert.equal(r.summary.s4xx, 5);
  assert.equal(r.summary.s5xx, 6);
  assert.deepEqual(r.hcodes, { H12: 1 });
  assert.equal(r.summary.bytes, 10000);
  assert.ok(r.p50[0]! > 25 && r.p50[0]! < 35, `p50 ${r.p50[0]}`);
  assert.deepEqual(r.dynos.web.cpu.slice(0, 1), [30]);
  assert.deepEqual(r.dynos.web.memoryMax.slice(0, 1), [300]);

  // The hour is rolled up: an hourly query answers the same totals from the hour row.
  m.maintain(now);
  const hourly = m.query(app.id, { since, until: since + 3600, step: 3600 });
  assert.equal(hourly.requests[0], 101);
  assert.equal(hourly.summary.p99, r.summary.p99);
  assert.ok(repo.routerRange(app.id, 3600, since, since + 3600).length === 1);

  // Retention: a day later the minutes are gone, the hour stays; 31 days later everything is gone.
  m.maintain(now + 25 * 3_600_000);
  assert.equal(repo.routerRange(app.id, 60, 0, Infinity).length, 0);
  assert.equal(repo.routerRange(app.id, 3600, 0, Infinity).length, 1);
  m.maintain(now + 31 * 24 * 3_600_000);
  assert.equal(repo.rowCount(), 0);

  m.recordRouterLine('shop', new Date(), line(200, 1, 1));
  m.flush();
  assert.ok(repo.rowCount() > 0);
  state.db.prepare('DELETE FROM apps WHERE id = ?').run(app.id);
  assert.equal(repo.rowCount(), 0, 'destroying the app drops its metrics');
  state.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
