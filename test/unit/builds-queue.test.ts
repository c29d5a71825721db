import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBuildQueue } from '../../server/builds/queue';

const tick = () => new Promise((r) => setImmediate(r));

test('builds of one app run one at a time, in push order, and the waiting push is told why', async () => {
  const q = createBuildQueue({ concurrency: 4, maxWaitMs: 5_000 });
  const order: string[] = [];
  const messages: string[] = [];
  const first = await q.acquire({ appName: 'app-a', sha: 'aaaaaaa1111' });
  const second = q
    .acquire({ appName: 'app-a', sha: 'bbbbbbb2222', onWait: (m) => messages.push(`2:${m}`) })
    .then((r) => {
      order.push('second');
      return r;
    });
  const third = q
    .acquire({ appName: 'app-a', sha: 'ccccccc3333', onWait: (m) => messages.push(`3:${m}`) })
    .then((r) => {
      order.push('third');
      return r;
    });
  await tick();
  assert.deepEqual(order, []);
  assert.deepEqual(messages, ['2:waiting for build of aaaaaaa to finish', '3:waiting for build of bbbbbbb to finish']);
  first();
  (await second)();
  (await third)();
  assert.deepEqual(order, ['second', 'third']);
  assert.deepEqual(q.stats(), { running: 0, waiting: 0, apps: [] });
});

test('different apps build side by side up to the concurrency limit', async () => {
  const q = createBuildQueue({ concurrency: 2, maxWaitMs: 5_000 });
  const a = await q.acquire({ appName: 'app-a', sha: '1' });
  const b = await q.acquire({ appName: 'app-b', sha: '2' });
  const messages: string[] = [];
  let cStarted = false;
  const c = q.acquire({ appName: 'app-c', sha: '3', onWait: (m) => messages.push(m) }).then((r) => {
    cStarted = true;
    return r;
  });
  await tick();
  assert.equal(cStarted, false);
  assert.deepEqual(messages, ['waiting for a free build slot (2 builds running)']);
  assert.equal(q.stats().running, 2);
  b();
  const release = await c;
  assert.equal(cStarted, true);
  a();
  release();
  assert.equal(q.stats().running, 0);
});

test('a push that waits longer than the limit is refused with a clear message, and the queue moves on', async () => {
  const q = createBuildQueue({ concurrency: 1, maxWaitMs: 50 });
  const first = await q.acquire({ appName: 'app-a', sha: 'abcdef0123' });
  await assert.rejects(
    q.acquire({ appName: 'app-a', sha: 'fedcba' }),
    (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'TIMEOUT');
      assert.match(err.message, /waiting .* for the build of abcdef0 to finish/);
      assert.match(err.hint ?? '', /builds:cancel/);
      return true;
    },
  );
  first();
  const next = await q.acquire({ appName: 'app-a', sha: 'fedcba' });
  next();
  assert.deepEqual(q.stats(), { running: 0, waiting: 0, apps: [] });
});

test('aborting a waiting build takes it out of the queue without disturbing the others', async () => {
  const q = createBuildQueue({ concurrency: 1, maxWaitMs: 5_000 });
  const first = await q.acquire({ appName: 'app-a', sha: '1111111' });
  const ac = new AbortController();
  const waiting = q.acquire({ appName: 'app-a', sha: '2222222', signal: ac.signal });
  const third = q.acquire({ appName: 'app-a', sha: '3333333' });
  await tick();
  ac.abort(new Error('client went away'));
  await assert.rejects(waiting, /client went away/);
  first();
  (await third)();
  assert.deepEqual(q.stats(), { running: 0, waiting: 0, apps: [] });
});

test('a slot wait that times out gives the app back to the next push', async () => {
  const q = createBuildQueue({ concurrency: 1, maxWaitMs: 40 });
  const other = await q.acquire({ appName: 'app-b', sha: 'x' });
  await assert.rejects(q.acquire({ appName: 'app-a', sha: 'y' }), /free build slot/);
  other();
  const again = await q.acquire({ appName: 'app-a', sha: 'z' });
  again();
  again(); // releasing twice is harmless
  assert.deepEqual(q.stats(), { running: 0, waiting: 0, apps: [] });
});

test("one user's apps take at most their builds limit of the machine's slots; other users' builds still start", async () => {
  const q = createBuildQueue({ concurrency: 3, maxWaitMs: 5_000 });
  const ana = {
    key: '1',
    limit: 1,
    waiting: (n: number) => `builds limit reached: user ana@example.com has ${n} of 1 builds`,
  };
  const a = await q.acquire({ appName: 'ana-a', sha: '1', owner: ana });
  const messages: string[] = [];
  let bStarted = false;
  const b = q.acquire({ appName: 'ana-b', sha: '2', owner: ana, onWait: (m) => messages.push(m) }).then((r) => {
    bStarted = true;
    return r;
  });
  // Another user's build takes a free slot at once.
  const c = await q.acquire({ appName: 'bo-c', sha: '3', owner: { key: '2', limit: 1, waiting: () => 'bo waits' } });
  await tick();
  assert.equal(bStarted, false);
  assert.deepEqual(messages, ['builds limit reached: user ana@example.com has 1 of 1 builds']);
  assert.equal(q.stats().running, 2);
  // A waiting build that is cancelled gives its place back.
  const ac = new AbortController();
  const d = q.acquire({ appName: 'ana-d', sha: '4', owner: ana, signal: ac.signal });
  ac.abort(new Error('client gone'));
  await assert.rejects(d, /client gone/);
  a();
  (await b)();
  c();
  assert.equal(bStarted, true);
  assert.deepEqual(q.stats(), { running: 0, waiting: 0, apps: [] });
});
