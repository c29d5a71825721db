import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { loadConfig } from '../../common/config';
import { createLogger, setLogLevel } from '../../common/logger';

test('every setting comes from loadConfig, whole numbers through one parser with a hint', () => {
  const c = loadConfig({
    SLIPWAY_BUILD_TIMEOUT_S: '120',
    SLIPWAY_ROUTER_BALANCE: 'round-robin',
    SLIPWAY_ROUTER_SKIP_MS: '250',
    SLIPWAY_ROUTER_HTTPS: 'off',
  });
  assert.equal(c.buildTimeoutMs, 120_000);
  assert.equal(c.buildQueueWaitMs, 120_000, 'the queue wait defaults to the build time limit');
  assert.equal(loadConfig({ SLIPWAY_BUILD_QUEUE_WAIT_S: '30' }).buildQueueWaitMs, 30_000);
  assert.equal(c.stackCache, '/var/cache/slipway/stacks');
  assert.deepEqual(
    [c.router.balance, c.router.skipMs, c.router.https, c.router.idleTimeoutMs],
    ['round-robin', 250, false, undefined],
  );
  // Router processes: one per core by default (at most 8), SLIPWAY_ROUTER_WORKERS otherwise.
  assert.equal(c.router.workers, Math.min(8, Math.max(1, Math.floor(os.availableParallelism() / 2))));
  assert.equal(loadConfig({ SLIPWAY_ROUTER_WORKERS: '1' }).router.workers, 1);
  for (const [key, value, re] of [
    ['SLIPWAY_API_PORT', '70000', /SLIPWAY_API_PORT="70000" is not a port number/],
    ['SLIPWAY_BUILD_QUEUE_WAIT_S', '1.5', /is not a positive whole number of seconds/],
    ['SLIPWAY_ROUTER_SKIP_MS', '-1', /SLIPWAY_ROUTER_SKIP_MS="-1" is not a positive whole number/],
    ['SLIPWAY_ROUTER_BALANCE', 'random', /is not a strategy/],
    ['SLIPWAY_ROUTER_WORKERS', '0', /SLIPWAY_ROUTER_WORKERS="0" is not a whole number from 1 to 8/],
    ['SLIPWAY_LOG_LEVEL', 'loud', /is not a log level/],
  ] as const) {
    assert.throws(
      () => loadConfig({ [key]: value }),
      (err: Error & { code?: string; hint?: string }) => {
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.match(err.message, re);
        assert.ok(err.hint, 'says what to do');
        return true;
      },
    );
  }
});

test('the logger prints "component: message" at or above SLIPWAY_LOG_LEVEL, warnings and errors on stderr', () => {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (l: string) => void out.push(l);
  console.error = (l: string) => void err.push(l);
  try {
    const logger = createLogger('slipway-test');
    setLogLevel('warn');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    setLogLevel('debug');
    logger.debug('d2');
    logger.error('e');
  } finally {
    [console.log, console.error] = [log, error];
    setLogLevel('info');
  }
  assert.deepEqual(out, ['slipway-test: d2']);
  assert.deepEqual(err, ['slipway-test: w', 'slipway-test: e']);
});
