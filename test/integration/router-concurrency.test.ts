import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { tmpDir } from '../helpers/home';
import {
  accessLog,
  health,
  processTree,
  routesApplied,
  startBackend,
  startRouterProcess,
  waitFor,
  writeRoutes,
  type Backend,
  type RouterProc,
} from './router-harness';

/**
 * 1,000 concurrent keep-alive clients through the router all get their 200s (issue 22: the
 * benchmark once saw 132 errors at this concurrency). A correctness test, not a timing test: how
 * fast is bench/router.ts's business. Runs the router with 1 process and with 2 workers sharing
 * the listening socket (SLIPWAY_ROUTER_WORKERS), so the multi-process mode is covered on any
 * machine.
 */
const CLIENTS = 1000;
const BODY = 'ok from the loopback backend\n';

/** 1,000 client sockets here plus the backend's side of the router's connections: raise the soft fd limit if it is low. */
function ensureFdLimit(want: number): void {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(limits);
  if (!m || m[1] === 'unlimited' || Number(m[1]) >= want) return;
  const hard = m[2] === 'unlimited' ? want : Math.min(want, Number(m[2]));
  execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${hard}:${m[2]}`]);
}

interface Outcome {
  status: number;
  body: string;
  reused: boolean;
}

function request(port: number, agent: http.Agent): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { Host: 'many.localhost' }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // Only a guard against a hang: a stuck exchange fails the test instead of stalling the run.
    req.setTimeout(60_000, () => req.destroy(new Error('no answer in 60 s')));
  });
}

for (const workers of [1, 2]) {
  describe(`router: ${CLIENTS} concurrent keep-alive clients, ${workers} process${workers > 1 ? 'es' : ''}`, () => {
    const home = tmpDir(`slipway-router-many-${workers}-`);
    let router: RouterProc;
    let backend: Backend;

    before(async () => {
      ensureFdLimit(8192);
      backend = await startBackend('many', (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(BODY) });
        res.end(BODY);
      });
      writeRoutes(home, { many: { hosts: ['many.localhost'], backends: [{ dyno: 'web.1', url: backend.url }] } });
      router = await startRouterProcess(home, { SLIPWAY_ROUTER_HTTPS: 'off', SLIPWAY_ROUTER_WORKERS: String(workers) });
      await routesApplied(router.httpPort, JSON.parse(fs.readFileSync(`${home}/run/routes.json`, 'utf8')).generatedAt);
    });

    after(async () => {
      await router?.stop();
      await backend?.close();
      fs.rmSync(home, { recursive: true, force: true });
    });

    test('every request of two waves over the same connections answers 200, each logged once', async () => {
      const h0 = await health(router.httpPort);
      assert.equal(processTree(router.pid).length, workers === 1 ? 1 : workers + 1);
      const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS, maxFreeSockets: CLIENTS });
      try {
        const first = await Promise.allSettled(Array.from({ length: CLIENTS }, () => request(router.httpPort, agent)));
        const second = await Promise.allSettled(Array.from({ length: CLIENTS }, () => request(router.httpPort, agent)));
        const all = [...first, ...second];
        const failed = all
          .filter((r) => r.status === 'rejected')
          .map((r) => String((r as PromiseRejectedResult).reason));
        assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${all.length} requests failed`);
        const outcomes = all.map((r) => (r as PromiseFulfilledResult<Outcome>).value);
        assert.deepEqual(
          outcomes.filter((o) => o.status !== 200 || o.body !== BODY).slice(0, 5),
          [],
          'every answer is the backend 200',
        );
        // Keep-alive: the second wave went over the first wave's connections.
        const reused = outcomes.slice(CLIENTS).filter((o) => o.reused).length;
        assert.ok(reused >= CLIENTS * 0.9, `only ${reused} of ${CLIENTS} second-wave requests reused a connection`);
      } finally {
        agent.destroy();
      }
      // Every request has exactly one access-log line, whichever process served it (the server's
      // metrics count these lines).
      const lines = await waitFor(
        'access log lines of both waves',
        () => {
          const l = accessLog(home).filter((x) => / many at=info method=GET path="\/" .* status=200 /.test(x));
          return l.length >= 2 * CLIENTS ? l : undefined;
        },
        { timeoutMs: 5000 },
      );
      assert.equal(lines.length, 2 * CLIENTS);
      const h = await health(router.httpPort);
      assert.equal(h.uncaughtExceptions, 0);
      assert.equal(h.generatedAt, h0.generatedAt);
      if (workers > 1) assert.equal(h.workers, workers);
    });
  });
}
