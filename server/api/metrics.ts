import { Router } from 'express';
import { SlipwayError } from '../../common/errors';
import { appFor, type ApiDeps } from './context';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const MAX_RANGE_S = 30 * 86400;
const MAX_POINTS = 1500;

/** "1h", "90m", "7d", an ISO time or unix seconds → unix seconds. */
export function parseTime(raw: string, now: number, name: string): number {
  const d = /^(\d{1,6})([smhd])$/.exec(raw);
  if (d) return now - Number(d[1]) * UNITS[d[2]];
  if (/^\d{9,11}$/.test(raw)) return Number(raw);
  const t = Date.parse(raw);
  if (!Number.isNaN(t)) return Math.floor(t / 1000);
  throw new SlipwayError('INVALID_INPUT', `${name}=${JSON.stringify(raw)} is not a time`, {
    hint: 'use a duration back from now (30m, 1h, 24h, 7d), an ISO time or unix seconds',
  });
}

/** Seconds per point: whole minutes, whole hours when the range reaches past the minute retention (24 h). */
export function chooseStep(since: number, until: number, now: number, raw?: string): number {
  const range = until - since;
  const needsHours = since < now - 24 * 3600 + 60;
  let step: number;
  if (raw) {
    const m = /^(\d{1,7})([smhd]?)$/.exec(raw);
    if (!m)
      throw new SlipwayError('INVALID_INPUT', `step=${JSON.stringify(raw)} is not a duration`, {
        hint: 'use 1m, 5m, 1h, or seconds (a multiple of 60)',
      });
    step = Number(m[1]) * UNITS[m[2] || 's'];
    if (step < 60 || step % 60 !== 0)
      throw new SlipwayError('INVALID_INPUT', 'step must be a whole number of minutes', {
        hint: 'use 1m, 5m, 15m, 1h',
      });
  } else {
    step = Math.max(60, Math.ceil(range / 120 / 60) * 60);
  }
  if (needsHours || step >= 3600) step = Math.max(3600, Math.ceil(step / 3600) * 3600);
  while (range / step > MAX_POINTS) step *= 2;
  return step;
}

/** GET /apps/:app/metrics?since=1h&until=&step=: the app's router traffic and dyno usage (read rights). */
export function createMetricsRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.get('/apps/:app/metrics', (req, res) => {
    const app = appFor(deps, req, res, 'read');
    if (!deps.metrics) {
      throw new SlipwayError('DOCKER_UNAVAILABLE', 'metrics are not collected on this server', {
        hint: 'unset SLIPWAY_METRICS=0 in the server environment and restart it',
      });
    }
    const q = req.query as Record<string, string | undefined>;
    const now = Math.floor(Date.now() / 1000);
    const until = q.until ? parseTime(q.until, now, 'until') : now;
    const since = parseTime(q.since || '1h', now, 'since');
    if (since >= until)
      throw new SlipwayError('INVALID_INPUT', 'since must be before until', { hint: 'for example ?since=1h' });
    if (until - since > MAX_RANGE_S || since < now - MAX_RANGE_S - 3600) {
      throw new SlipwayError('INVALID_INPUT', 'metrics are kept for 30 days', { hint: 'ask for at most since=30d' });
    }
    const step = chooseStep(since, until, now, q.step);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ app: app.name, ...deps.metrics.query(app.id, { since, until, step }) });
  });
  return r;
}
