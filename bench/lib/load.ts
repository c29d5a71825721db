import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { summarize } from './stats';

/**
 * A fixed-rate load generator on loopback (not wrk: every request's outcome and latency is
 * recorded, so failures are exact). It runs in its own process so the benchmark's own work
 * (git, polling, docker) cannot delay the schedule. Request i is sent at t0 + i/rate; latency
 * is measured from that scheduled time, so a stalled server shows as latency, not as fewer
 * requests (no coordinated omission). Each request has a 10 s timeout; anything but a 200
 * (connection refused, reset, timeout, 5xx) is a failure. Keep-alive agent, at most 256 sockets.
 * It exits by itself when the benchmark process is gone or after maxMs (default 30 min).
 */
const LOADGEN_SRC = `
const http = require('http');
const fs = require('fs');
const [port, host, rate, out] = [Number(process.argv[1]), process.argv[2], Number(process.argv[3]), process.argv[4]];
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const results = [];
let stopping = false, inflight = 0, i = 0;
const t0 = Date.now();
function one(scheduled) {
  inflight++;
  let done = false;
  const finish = (status, err) => {
    if (done) return; done = true; inflight--;
    results.push([scheduled, Date.now() - scheduled, status, err || '']);
  };
  const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 10000 }, (res) => {
    res.resume();
    res.on('end', () => finish(res.statusCode));
    res.on('error', (e) => finish(0, e.code || e.message));
  });
  req.on('error', (e) => finish(0, e.code || e.message));
  req.on('timeout', () => { req.destroy(new Error('timeout')); });
}
function tick() {
  if (stopping) return;
  const now = Date.now();
  while (t0 + i * 1000 / rate <= now) one(t0 + (i++) * 1000 / rate);
  setTimeout(tick, Math.max(1, t0 + i * 1000 / rate - Date.now()));
}
process.on('SIGTERM', () => {
  stopping = true;
  const wait = () => { if (inflight === 0) { fs.writeFileSync(out, JSON.stringify(results)); process.exit(0); } else setTimeout(wait, 20); };
  wait();
});
// Never outlive the benchmark (killed by a time budget, crashed): stop when the parent is gone
// or after the hard cap, whichever comes first.
const parent = Number(process.argv[5]);
setInterval(() => { try { process.kill(parent, 0); } catch { process.exit(3); } }, 1000).unref();
setTimeout(() => process.exit(4), Number(process.argv[6])).unref();
console.log('started');
tick();
`;

export interface LoadRecord {
  at: number;
  latencyMs: number;
  status: number;
  error: string;
}

export interface LoadRun {
  stop(): Promise<LoadRecord[]>;
}

export async function startLoad(port: number, host: string, rate: number, maxMs = 30 * 60_000): Promise<LoadRun> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-load-')), 'results.json');
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', LOADGEN_SRC, String(port), host, String(rate), out, String(process.pid), String(maxMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`load generator exited (${code})`)));
  });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        child.removeAllListeners('exit');
        if (child.exitCode !== null || child.signalCode !== null) {
          reject(new Error(`the load generator stopped early (${child.exitCode ?? child.signalCode})`));
          return;
        }
        child.once('exit', () => {
          try {
            const rows = JSON.parse(fs.readFileSync(out, 'utf8')) as Array<[number, number, number, string]>;
            resolve(
              rows
                .map(([at, latencyMs, status, error]) => ({ at, latencyMs, status, error }))
                .sort((a, b) => a.at - b.at),
            );
          } catch (err) {
            reject(err);
          } finally {
            fs.rmSync(path.dirname(out), { recursive: true, force: true });
          }
        });
        child.kill('SIGTERM');
      }),
  };
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Requests, failures (with their error kinds), p50/p99/max latency of records in [from, to). */
export function loadStats(records: LoadRecord[], from = -Infinity, to = Infinity) {
  const rows = records.filter((r) => r.at >= from && r.at < to);
  const lat = rows.map((r) => r.latencyMs).sort((a, b) => a - b);
  const failures = rows.filter((r) => r.status !== 200);
  const kinds: Record<string, number> = {};
  for (const f of failures) kinds[f.error || `http ${f.status}`] = (kinds[f.error || `http ${f.status}`] ?? 0) + 1;
  return {
    requests: rows.length,
    failed_requests: failures.length,
    failure_kinds: kinds,
    p50_ms: percentile(lat, 50),
    p99_ms: percentile(lat, 99),
    max_ms: lat.length ? lat[lat.length - 1] : NaN,
  };
}

export { summarize };
