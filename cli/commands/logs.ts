import type { Command, Ctx } from '../command';
import { CliError, usageError } from '../errors';
import { stripControls } from '../terminal-text';

const SOURCES = ['app', 'router', 'build', 'api', 'platform'];

const logs: Command = {
  name: 'logs',
  summary: "show the app's logs (dynos, router, builds, API changes); -t follows them live",
  usage: 'logs [-a APP] [-n N] [-t] [--ps TYPE|DYNO] [--source app|router|build|api|platform] [--json]',
  help: "Lines look like Heroku's: `2026-11-28T06:00:00.000Z app[web.1]: listening`.\nThe last 1,500 lines per app are kept across deploys and restarts.\n--json prints one JSON object per line (NDJSON).",
  app: true,
  json: true,
  flags: {
    num: { short: 'n', desc: 'number of past lines (default 100, at most 1500)', value: 'N' },
    tail: { short: 't', boolean: true, desc: 'keep the session open and stream new lines' },
    ps: { short: 'p', desc: 'only one process type (web) or one dyno (web.1)', value: 'TYPE|DYNO' },
    dyno: { short: 'd', desc: 'same as --ps', value: 'DYNO' },
    source: { short: 's', desc: 'only one source: app, router, build, api, platform', value: 'SOURCE' },
  },
  async run(ctx) {
    const name = await ctx.app();
    const q = new URLSearchParams();
    if (ctx.flags.num !== undefined) {
      if (!/^\d+$/.test(String(ctx.flags.num))) throw usageError('-n needs a number', this.usage);
      q.set('lines', String(ctx.flags.num));
    }
    const ps = ctx.flags.ps ?? ctx.flags.dyno;
    if (typeof ps === 'string') q.set('dyno', ps);
    if (typeof ctx.flags.source === 'string') {
      if (!SOURCES.includes(ctx.flags.source)) throw usageError(`${ctx.flags.source} is not a log source`, this.usage);
      q.set('source', ctx.flags.source);
    }
    if (ctx.flags.tail) q.set('tail', '1');
    if (ctx.out.json) q.set('format', 'json');
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const colour = ctx.out.color && !ctx.out.json;
    const print = (l: string) => {
      if (ctx.out.json && l.startsWith('{"heartbeat"')) return;
      // App output is untrusted: no terminal control sequences reach the user's terminal.
      const clean = stripControls(l);
      process.stdout.write((colour ? paint(clean) : clean) + '\n');
    };
    try {
      // A live tail outlives server restarts: when the stream drops, say so and reconnect (new
      // lines only, so nothing is printed twice). Refused credentials end it (a CliError with a status).
      let failures = 0;
      let downSince = 0;
      for (;;) {
        try {
          await streamOnce(ctx, `/apps/${name}/logs?${q}`, ac.signal, print, () => {
            if (failures > 0) ctx.out.err(' !     log stream reconnected');
            failures = 0;
            downSince = 0;
          });
          if (!ctx.flags.tail || ac.signal.aborted) return;
        } catch (err) {
          if ((err as Error).name === 'AbortError' || ac.signal.aborted) return;
          // Refused (revoked token, app gone, no permission): final. A server that is down or
          // restarting (no connection, 502/503/504): try again.
          const status = err instanceof CliError ? err.status : undefined;
          if (!ctx.flags.tail || (status !== undefined && ![502, 503, 504].includes(status))) throw err;
        }
        downSince ||= Date.now();
        if (Date.now() - downSince > RECONNECT_FOR_MS) {
          throw new CliError(`the log stream could not be reopened for ${RECONNECT_FOR_MS / 60_000} minutes`, {
            hint: 'check that slipway-server is running (slipway status), then run slipway logs -t again',
          });
        }
        if (failures === 0)
          ctx.out.err(' !     log stream interrupted (is slipway-server restarting?); reconnecting...');
        q.set('lines', '0');
        // The first retry waits a second: a server that is shutting down has closed its listener by then.
        await sleep(Math.min(5000, 1000 * 2 ** Math.min(failures, 3)), ac.signal);
        failures++;
        if (ac.signal.aborted) return;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};

/** How long `logs -t` keeps trying to reopen a dropped stream before it gives up. */
const RECONNECT_FOR_MS = 5 * 60_000;

/** One log session: prints each complete line; resolves when the server ends the response. */
async function streamOnce(
  ctx: Ctx,
  path: string,
  signal: AbortSignal,
  print: (line: string) => void,
  onOpen: () => void,
): Promise<void> {
  const res = await ctx.api().stream(path, signal);
  onOpen();
  let rest = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) print(l);
  }
  if (rest) print(rest);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

/** Colours the `source[dyno]:` tag on a terminal, like Heroku's CLI. */
function paint(line: string): string {
  const m = /^(\S+) ((?:app|slipway)\[[^\]]+\]:)(.*)$/.exec(line);
  if (!m) return line;
  const code = m[2].startsWith('slipway') ? 35 : m[2].startsWith('app[api]') ? 32 : 36;
  return `\x1b[2m${m[1]}\x1b[0m \x1b[${code}m${m[2]}\x1b[0m${m[3]}`;
}

export const logsCommands: Command[] = [logs];
