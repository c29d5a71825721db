import type { Command } from '../command';
import { usageError } from '../errors';
import type { MetricsAnswer } from '../../common/metrics-answer';

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line plot: one block per point, scaled to the series' maximum (blank where there is no data). */
export function sparkline(values: Array<number | null>, width = 60): string {
  // Wider series are merged into `width` columns by taking each group's maximum.
  const group = Math.max(1, Math.ceil(values.length / width));
  const cols: Array<number | null> = [];
  for (let i = 0; i < values.length; i += group) {
    const part = values.slice(i, i + group).filter((v): v is number => v !== null);
    cols.push(part.length ? Math.max(...part) : null);
  }
  const max = Math.max(0, ...cols.filter((v): v is number => v !== null));
  return cols
    .map((v) => (v === null ? ' ' : max === 0 ? BARS[0] : BARS[Math.min(7, Math.floor((v / max) * 7.999))]))
    .join('');
}

const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
function bytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

const metrics: Command = {
  name: 'metrics',
  summary: "the app's traffic (requests, status classes, latency percentiles) and dyno CPU/memory",
  usage: 'metrics [-a APP] [--since 1h] [--step 5m] [--table] [--json]',
  help: 'Ranges: --since 30m, 1h, 24h, 7d, 30d (per-minute data is kept 24 h, per-hour 30 days).\n--table prints one row per point instead of sparklines.',
  app: true,
  json: true,
  flags: {
    since: { desc: 'how far back (default 1h)', value: 'DURATION' },
    step: { desc: 'width of one point (default: about 120 points)', value: 'DURATION' },
    table: { boolean: true, desc: 'one row per point instead of sparklines' },
  },
  async run(ctx) {
    const name = await ctx.app();
    const since = String(ctx.flags.since ?? '1h');
    if (!/^\d+[smhd]$/.test(since)) throw usageError(`--since ${since} is not a duration`, this.usage);
    const qs = new URLSearchParams({ since });
    if (ctx.flags.step) qs.set('step', String(ctx.flags.step));
    const m = await ctx.api().request<MetricsAnswer>('GET', `/apps/${name}/metrics?${qs}`);
    if (ctx.out.json) return ctx.out.printJson(m);
    const s = m.summary;
    ctx.out.log(ctx.out.bold(`=== ${name} metrics, last ${since} (${m.step / 60} min per point)`));
    if (ctx.flags.table) {
      ctx.out.table(
        m.time.map((t, i) => ({
          time: new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' '),
          req: m.requests[i],
          s2: m.s2xx[i],
          s3: m.s3xx[i],
          s4: m.s4xx[i],
          s5: m.s5xx[i],
          h: m.herr[i],
          p50: ms(m.p50[i]),
          p95: ms(m.p95[i]),
          p99: ms(m.p99[i]),
          bytes: bytes(m.bytes[i]),
        })),
        [
          ['time', 'Time (UTC)'],
          ['req', 'Requests'],
          ['s2', '2xx'],
          ['s3', '3xx'],
          ['s4', '4xx'],
          ['s5', '5xx'],
          ['h', 'H-errors'],
          ['p50', 'p50'],
          ['p95', 'p95'],
          ['p99', 'p99'],
          ['bytes', 'Bytes'],
        ],
      );
    } else {
      const row = (label: string, line: string, tail: string) => ctx.out.log(`${label.padEnd(10)}${line}  ${tail}`);
      row('requests', sparkline(m.requests), `${s.requests} total`);
      row('5xx', sparkline(m.s5xx), `${s.s5xx}`);
      row('p95', sparkline(m.p95), ms(s.p95));
      for (const [ptype, d] of Object.entries(m.dynos)) {
        const last = <T>(a: Array<T | null>) => [...a].reverse().find((v) => v !== null) ?? null;
        row(`${ptype} cpu`, sparkline(d.cpu), `${last(d.cpu) ?? '-'} %`);
        row(`${ptype} mem`, sparkline(d.memory), bytes(last(d.memory)));
      }
    }
    const codes = Object.entries(m.hcodes)
      .map(([k, n]) => `${k}×${n}`)
      .join(' ');
    ctx.out.log(
      `Requests ${s.requests} (2xx ${s.s2xx}, 3xx ${s.s3xx}, 4xx ${s.s4xx}, 5xx ${s.s5xx}${codes ? `; router errors ${codes}` : ''}); ` +
        `latency p50 ${ms(s.p50)}, p95 ${ms(s.p95)}, p99 ${ms(s.p99)}; ${bytes(s.bytes)} sent`,
    );
  },
};

const dashboard: Command = {
  name: 'dashboard',
  summary: 'print (and open, on a desktop) a one-time sign-in link to the web dashboard (valid once, 5 minutes)',
  usage: 'dashboard [--open | --no-browser]',
  help: 'The link is opened with xdg-open (open on macOS) when stdout is a terminal on a desktop\n(DISPLAY or WAYLAND_DISPLAY set); --open forces it, --no-browser only prints it.',
  flags: {
    open: { boolean: true, desc: 'open it in a browser even without a desktop session' },
    'no-browser': { boolean: true, desc: 'only print the link' },
  },
  async run(ctx) {
    const api = ctx.api();
    const r = await api.request<{ path: string; expiresAt: string }>('POST', '/dashboard/links', {});
    const url = `${api.apiUrl}${r.path}`;
    ctx.out.log(url);
    ctx.out.log(ctx.out.dim(`valid once, until ${r.expiresAt}; anyone with this link signs in as you`));
    const desktop =
      process.stdout.isTTY && (process.platform === 'darwin' || Boolean(ctx.env.DISPLAY || ctx.env.WAYLAND_DISPLAY));
    if (!ctx.flags['no-browser'] && (ctx.flags.open || desktop)) {
      const { spawn } = await import('node:child_process');
      const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
      try {
        spawn(opener, [url], { stdio: 'ignore', detached: true })
          .on('error', () => undefined)
          .unref();
      } catch {
        // no browser here: the printed link is enough
      }
    }
  },
};

export const metricsCommands: Command[] = [metrics, dashboard];
