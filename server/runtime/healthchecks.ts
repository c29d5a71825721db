import * as http from 'node:http';
import { SlipwayError } from '../../common/errors';

/**
 * Health checks for new web dynos. With app.json `healthchecks.web` (Dokku's schema) each startup
 * or readiness check runs in order; liveness checks are not run at deploy time. Without checks the
 * port must answer HTTP (any status) within the boot timeout. Every check stops at once when the
 * container exits, so a crashing app fails its deploy in a second, not after the timeout.
 */
export interface HealthCheck {
  type: 'startup' | 'readiness' | 'liveness';
  name: string;
  path?: string;
  content?: string;
  /** Seconds, like Dokku. */
  timeout: number;
  attempts: number;
  wait: number;
  initialDelay: number;
  uptime?: number;
}

export type CheckResult = { ok: true } | { ok: false; check: string; reason: string; exitCode?: number };

export interface ContainerProbe {
  /** Undefined while running, else the exit code. */
  exited(): Promise<number | undefined>;
}

const num = (v: unknown, fallback: number, field: string, i: number): number => {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new SlipwayError(
      'INVALID_INPUT',
      `app.json healthchecks.web[${i}].${field} must be a non-negative number of seconds`,
      {
        hint: 'fix app.json and push again (Dokku schema: type, path, content, timeout, attempts, wait, initialDelay, uptime)',
      },
    );
  }
  return v;
};

/** Parses app.json healthchecks for one process type. Throws INVALID_INPUT on a malformed entry. */
export function parseHealthChecks(
  healthchecks: Record<string, unknown[]> | undefined,
  processType = 'web',
): HealthCheck[] {
  const list = healthchecks?.[processType];
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw new SlipwayError('INVALID_INPUT', `app.json healthchecks.${processType} must be a list of checks`, {
      hint: 'see docs/runtime.md',
    });
  }
  return list.map((raw, i) => {
    if (!raw || typeof raw !== 'object')
      throw new SlipwayError('INVALID_INPUT', `app.json healthchecks.${processType}[${i}] must be an object`);
    const c = raw as Record<string, unknown>;
    const type = (c.type ?? 'startup') as HealthCheck['type'];
    if (!['startup', 'readiness', 'liveness'].includes(type)) {
      throw new SlipwayError(
        'INVALID_INPUT',
        `app.json healthchecks.${processType}[${i}].type ${JSON.stringify(c.type)} is unknown`,
        {
          hint: 'use startup, readiness or liveness',
        },
      );
    }
    if (c.path !== undefined && (typeof c.path !== 'string' || !c.path.startsWith('/'))) {
      throw new SlipwayError('INVALID_INPUT', `app.json healthchecks.${processType}[${i}].path must start with "/"`);
    }
    return {
      type,
      name: typeof c.name === 'string' ? c.name : `check ${i + 1}${c.path ? ` (GET ${c.path})` : ''}`,
      path: c.path as string | undefined,
      content: typeof c.content === 'string' ? c.content : undefined,
      timeout: num(c.timeout, 5, 'timeout', i),
      attempts: Math.max(1, Math.floor(num(c.attempts, 3, 'attempts', i))),
      wait: num(c.wait, 5, 'wait', i),
      initialDelay: num(c.initialDelay, 0, 'initialDelay', i),
      uptime: c.uptime === undefined ? undefined : num(c.uptime, 0, 'uptime', i),
    };
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One HTTP GET; resolves with status and up to 64 KiB of body, or rejects. */
export function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { agent: false, timeout: timeoutMs, headers: { 'user-agent': 'slipway-healthcheck' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 65536) body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const exitedReason = (code: number) => `the process exited with status ${code} before the check passed`;

/** Default check: the port answers HTTP within bootTimeoutMs. */
export async function checkAnswersHttp(
  baseUrl: string,
  probe: ContainerProbe,
  bootTimeoutMs: number,
): Promise<CheckResult> {
  const check = `the web process must answer HTTP on $PORT within ${Math.round(bootTimeoutMs / 1000)} s`;
  const started = Date.now();
  const deadline = started + bootTimeoutMs;
  let last = 'no answer yet';
  let inspectedAt = 0;
  for (;;) {
    // Whether the process died costs a Docker API call: asked at most every 500 ms, while the
    // port is probed every 50 ms during the first seconds (a refused loopback connect is cheap),
    // so a dyno that is up is noticed within ~50 ms, not 200 (issue 18: the rebase-all wall time).
    if (Date.now() - inspectedAt >= EXIT_CHECK_EVERY_MS) {
      inspectedAt = Date.now();
      const code = await probe.exited();
      if (code !== undefined) return { ok: false, check, reason: exitedReason(code), exitCode: code };
    }
    try {
      await httpGet(baseUrl + '/', Math.min(2000, Math.max(deadline - Date.now(), 100)));
      return { ok: true };
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) return { ok: false, check, reason: `timed out (${last})` };
    await sleep(Date.now() - started < FAST_POLL_FOR_MS ? 50 : 200);
  }
}

const EXIT_CHECK_EVERY_MS = 500;
/** How long after start the port is probed every 50 ms (then every 200 ms). */
const FAST_POLL_FOR_MS = 5000;

/** Runs the app's startup/readiness checks in order. */
export async function runHealthChecks(
  baseUrl: string,
  checks: HealthCheck[],
  probe: ContainerProbe,
): Promise<CheckResult> {
  const started = Date.now();
  for (const c of checks.filter((x) => x.type !== 'liveness')) {
    if (c.initialDelay > 0) await sleep(c.initialDelay * 1000);
    if (c.uptime !== undefined) {
      while (Date.now() - started < c.uptime * 1000) {
        const code = await probe.exited();
        if (code !== undefined) return { ok: false, check: c.name, reason: exitedReason(code), exitCode: code };
        await sleep(200);
      }
    }
    if (!c.path) continue;
    let reason = '';
    let passed = false;
    for (let attempt = 1; attempt <= c.attempts && !passed; attempt++) {
      const code = await probe.exited();
      if (code !== undefined) return { ok: false, check: c.name, reason: exitedReason(code), exitCode: code };
      try {
        const res = await httpGet(baseUrl + c.path, c.timeout * 1000);
        if (res.status < 200 || res.status >= 400) reason = `GET ${c.path} answered ${res.status}`;
        else if (c.content !== undefined && !res.body.includes(c.content))
          reason = `GET ${c.path} did not contain ${JSON.stringify(c.content)}`;
        else passed = true;
      } catch (err) {
        reason = `GET ${c.path}: ${(err as Error).message}`;
      }
      if (!passed && attempt < c.attempts) await sleep(c.wait * 1000);
    }
    if (!passed) return { ok: false, check: c.name, reason: `${reason} (after ${c.attempts} attempts)` };
  }
  return { ok: true };
}
