import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { SlipwayConfig } from '../../common/config';
import { createRoutesPublisher } from '../../server/routes/publish';
import { startRouterProcess, type RouterProc } from './router-harness';
import { createRuntimeFixture, sleep, waitFor, type RuntimeFixture } from './runtime-fixture';

/**
 * Zero downtime through the real router: the runtime publishes run/routes.json with the real
 * publisher, the real slipway-router process serves it, and a steady load of about 100 requests
 * per second runs through 5 consecutive deploys. Every request must succeed.
 */
let fx: RuntimeFixture;
let router: RouterProc | undefined;
before(async () => {
  fx = await createRuntimeFixture('rt-zdt', { routeSettleMs: 1000, drainGraceMs: 2000 });
  const publisher = createRoutesPublisher({
    state: fx.state,
    paths: fx.home,
    config: { domain: 'localhost' } as SlipwayConfig,
  });
  fx.onPublish.push((web) => publisher.publish(web));
  await fx.runtime.start();
  router = await startRouterProcess(fx.home.home);
});
after(async () => {
  await router?.stop();
  await fx?.cleanup();
});

function request(port: number, host: string, agent: http.Agent): Promise<{ status: number; body: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test(
  '5 consecutive deploys under ~100 requests per second through the router: zero failed requests',
  { timeout: 180_000 },
  async () => {
    const app = fx.createApp();
    await fx.deploy(app, { code: 'deploy-0' });
    const host = `${app}.localhost`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    await waitFor(
      'router serving v1',
      async () => (await request(router!.httpPort, host, agent).catch(() => ({ status: 0 }))).status === 200,
      { timeoutMs: 10_000 },
    );

    const failures: string[] = [];
    const seen = new Map<string, number>();
    const latencies: number[] = [];
    const inflight = new Set<Promise<void>>();
    const deployMs: number[] = [];
    const t0 = Date.now();
    let sent = 0;
    // Paced by the clock, not by timer ticks (which drift under load): 100 requests per second.
    const fire = () => {
      sent++;
      const p = request(router!.httpPort, host, agent).then(
        (r) => {
          latencies.push(r.ms);
          if (r.status !== 200) failures.push(`HTTP ${r.status}: ${r.body.slice(0, 120)}`);
          else seen.set(r.body.split(' ')[0], (seen.get(r.body.split(' ')[0]) ?? 0) + 1);
        },
        (e: Error) => void failures.push(e.message),
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    };
    const timer = setInterval(() => {
      while (sent < ((Date.now() - t0) / 1000) * 100) fire();
    }, 5);

    try {
      for (let i = 1; i <= 5; i++) {
        const d0 = Date.now();
        const rel = await fx.deploy(fx.state.apps.require(app).name, { code: `deploy-${i}` });
        deployMs.push(Date.now() - d0);
        assert.equal(rel.status, 'succeeded');
        await sleep(1500); // traffic on the new release while the old one drains
      }
    } finally {
      clearInterval(timer);
      await Promise.all([...inflight]);
    }
    const seconds = (Date.now() - t0) / 1000;
    const total = latencies.length + failures.length;
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)];
    console.log(
      `zero-downtime: ${total} requests in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)}/s), ${failures.length} failed, p99 ${p99} ms, max ${latencies.at(-1)} ms; deploys (image build + load + start + check + swap) ${deployMs.join('/')} ms; per code version: ${JSON.stringify(Object.fromEntries(seen))}`,
    );
    assert.deepEqual(failures, []);
    assert.ok(total / seconds > 90, `steady load (${(total / seconds).toFixed(0)}/s)`);
    for (let i = 1; i <= 5; i++) assert.ok(seen.get(`deploy-${i}`), `deploy-${i} served`);
    agent.destroy();
    // Old releases' containers were drained and removed: only v6's web.1 remains.
    await waitFor(
      'old containers removed',
      async () =>
        (await fx.docker.listContainers({ all: true, filters: { label: [`io.slipway.app=${app}`] } })).length === 1,
      { timeoutMs: 10_000 },
    );
  },
);
