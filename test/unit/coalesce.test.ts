import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesce } from '../../common/coalesce';

// The runner behind the route publisher and the ACME worker: calls during a run become one more
// pass after it, never a second run beside it.

const tick = () => new Promise((r) => setTimeout(r, 5));

test('calls while a run is going become one more pass; every caller waits for the run that covers it', async () => {
  let passes = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const run = coalesce(async () => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    await tick();
    passes++;
    concurrent--;
  });
  const first = run();
  const calls = [run(), run(), run()];
  await Promise.all([first, ...calls]);
  assert.equal(maxConcurrent, 1);
  assert.equal(passes, 2, 'the first pass and one more for the three calls made during it');
  await run();
  assert.equal(passes, 3, 'a call after the run settled starts a new run');
});

test('an error rejects the callers, or goes to onSettled once per run; repeatWhile stops the extra pass', async () => {
  const failing = coalesce(async () => {
    await tick();
    throw new Error('boom');
  });
  await assert.rejects(Promise.all([failing(), failing()]), /boom/);

  const settled: Array<unknown> = [];
  let passes = 0;
  let stopped = false;
  const run = coalesce(
    async () => {
      passes++;
      await tick();
      if (passes === 1) stopped = true;
    },
    { repeatWhile: () => !stopped, onSettled: (err) => settled.push(err) },
  );
  await Promise.all([run(), run()]);
  assert.equal(passes, 1, 'the pass asked for is skipped once repeatWhile says no');
  assert.deepEqual([...settled], [undefined]);

  const handled = coalesce(() => Promise.reject(new Error('handled')), { onSettled: (err) => settled.push(err) });
  await handled();
  assert.match(String(settled[1]), /handled/);
});
