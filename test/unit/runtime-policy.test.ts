import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKOFF, nextAttempt, restartDelayMs } from '../../server/runtime/backoff';
import { parseHealthChecks } from '../../server/runtime/healthchecks';
import { SIZES, assertSize, sizeToHostConfig } from '../../server/runtime/sizes';
import { demuxBuffer } from '../../server/runtime/docker/streams';
import { imagesToKeep } from '../../server/runtime/gc';

test('back-off: first restart within 2 s, doubling, capped at 5 minutes', () => {
  const delays = Array.from({ length: 12 }, (_, i) => restartDelayMs(i));
  assert.ok(delays[0] <= 2000);
  assert.deepEqual(delays.slice(0, 5), [1000, 2000, 4000, 8000, 16000]);
  assert.equal(Math.max(...delays), 5 * 60_000);
  assert.equal(restartDelayMs(1000), 5 * 60_000);
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i] >= delays[i - 1]);
});

test('back-off resets after 10 minutes of healthy running', () => {
  assert.equal(nextAttempt(7, 9 * 60_000), 7);
  assert.equal(nextAttempt(7, DEFAULT_BACKOFF.resetAfterMs), 0);
});

test('sizes map to Docker limits; CPUs are clamped to the host; unknown sizes are refused with the list', () => {
  assert.deepEqual(sizeToHostConfig('standard-1x', 2), {
    Memory: 512 * 1024 * 1024,
    MemorySwap: 512 * 1024 * 1024,
    NanoCpus: 1e9,
    PidsLimit: 256,
  });
  assert.equal(sizeToHostConfig('performance-l', 2).NanoCpus, 2e9);
  assert.equal(sizeToHostConfig('eco', 8).NanoCpus, 0.25e9);
  assert.equal(assertSize('Standard-2X'), 'standard-2x');
  assert.throws(
    () => assertSize('huge'),
    (e: Error & { hint?: string }) => /not a dyno size/.test(e.message) && e.hint!.includes('eco'),
  );
  assert.throws(() => assertSize('__proto__'), /not a dyno size/);
  for (const s of Object.values(SIZES)) assert.ok(s.memoryMb > 0 && s.cpus > 0 && s.pids > 0);
});

test('app.json healthchecks: Dokku defaults, validation with the field named', () => {
  assert.deepEqual(parseHealthChecks(undefined), []);
  assert.deepEqual(parseHealthChecks({ worker: [] }), []);
  const [c] = parseHealthChecks({ web: [{ path: '/health', content: 'ok' }] });
  assert.deepEqual(c, {
    type: 'startup',
    name: 'check 1 (GET /health)',
    path: '/health',
    content: 'ok',
    timeout: 5,
    attempts: 3,
    wait: 5,
    initialDelay: 0,
    uptime: undefined,
  });
  assert.equal(parseHealthChecks({ web: [{ type: 'liveness', name: 'live', path: '/' }] })[0].type, 'liveness');
  assert.throws(() => parseHealthChecks({ web: [{ type: 'sometimes' }] }), /type "sometimes" is unknown/);
  assert.throws(() => parseHealthChecks({ web: [{ path: 'health' }] }), /path must start with "\/"/);
  assert.throws(
    () => parseHealthChecks({ web: [{ path: '/', timeout: -1 }] }),
    /web\[0\]\.timeout must be a non-negative number/,
  );
  assert.throws(() => parseHealthChecks({ web: 'yes' as unknown as unknown[] }), /must be a list/);
});

test('docker log frames are demultiplexed; unframed (TTY) output passes through', () => {
  const frame = (kind: number, s: string) => {
    const body = Buffer.from(s);
    const h = Buffer.alloc(8);
    h[0] = kind;
    h.writeUInt32BE(body.length, 4);
    return Buffer.concat([h, body]);
  };
  assert.equal(
    demuxBuffer(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'more\n')])),
    'out\nerr\nmore\n',
  );
  assert.equal(demuxBuffer(Buffer.from('plain tty output\n')), 'plain tty output\n');
});

test('image retention: the newest N distinct images, plus current and running releases', () => {
  const r = (version: number, image: string | null) => ({ version, imageDigest: image });
  const releases = [r(1, 'a'), r(2, 'b'), r(3, 'b'), r(4, null), r(5, 'c'), r(6, 'd'), r(7, 'e')];
  assert.deepEqual([...imagesToKeep(releases, 3, [])].sort(), ['c', 'd', 'e']);
  // Config-only releases share an image: distinct images count, not releases.
  assert.deepEqual([...imagesToKeep([r(1, 'a'), r(2, 'a'), r(3, 'a'), r(4, 'b')], 2, [])].sort(), ['a', 'b']);
  // A rollback to v1 makes a's image current: kept even beyond N.
  assert.deepEqual([...imagesToKeep(releases, 2, [1])].sort(), ['a', 'd', 'e']);
});
