import type { Command } from '../command';
import { usageError } from '../errors';
import { attachSession } from '../attach';

const SIZE_FLAG = { desc: 'dyno size for the one-off dyno', value: 'SIZE' };
const ENV_FLAG = { short: 'e', desc: 'extra env for the dyno: "KEY=VALUE;KEY2=VALUE2"', value: 'VARS' };

function parseEnv(raw: unknown): Record<string, string> | undefined {
  if (typeof raw !== 'string') return undefined;
  const env: Record<string, string> = {};
  for (const part of raw.split(';').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw usageError(`${JSON.stringify(part)} is not KEY=VALUE`, 'run -e "KEY=VALUE;KEY2=VALUE2" COMMAND');
    env[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return env;
}

/**
 * The command line the dyno's shell runs. One argument is taken as a shell command as it is
 * (`slipway run -- 'ls | wc -l'`); several are quoted word by word so they arrive as typed
 * (`slipway run -- node -e 'console.log(1)'`), which joining with spaces would break.
 */
export function commandLine(args: string[]): string {
  if (args.length === 1) return args[0];
  return args.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Attached one-off dyno (`heroku run`): the request is upgraded to a raw connection carrying the
 * terminal both ways; a TTY is allocated when stdin and stdout are terminals (or --tty).
 */
const run: Command = {
  name: 'run',
  summary: 'run a one-off command in a dyno, attached to your terminal (exit code passed through)',
  usage: 'run [-a APP] [--size SIZE] [-e VARS] [--no-tty] -- COMMAND...',
  app: true,
  passthrough: true,
  flags: {
    size: SIZE_FLAG,
    env: ENV_FLAG,
    'no-tty': { boolean: true, desc: 'do not allocate a terminal' },
    tty: { boolean: true, desc: 'allocate a terminal even when not on one' },
  },
  async run(ctx) {
    if (!ctx.args.length) throw usageError('which command?', this.usage);
    const name = await ctx.app();
    const tty =
      Boolean(ctx.flags.tty) || (!ctx.flags['no-tty'] && Boolean(process.stdin.isTTY && process.stdout.isTTY));
    const opts = {
      command: commandLine(ctx.args),
      tty,
      cols: process.stdout.columns,
      rows: process.stdout.rows,
      ...(typeof ctx.flags.size === 'string' ? { size: ctx.flags.size } : {}),
      ...(parseEnv(ctx.flags.env) ? { env: parseEnv(ctx.flags.env) } : {}),
    };
    return attachSession(ctx, `/apps/${name}/run`, opts);
  },
};

const detached: Command = {
  name: 'run:detached',
  summary: "run a one-off command in the background; its output goes to the app's logs",
  usage: 'run:detached [-a APP] [--size SIZE] [-e VARS] -- COMMAND...',
  app: true,
  passthrough: true,
  json: true,
  flags: { size: SIZE_FLAG, env: ENV_FLAG },
  async run(ctx) {
    if (!ctx.args.length) throw usageError('which command?', this.usage);
    const name = await ctx.app();
    const dyno = await ctx.api().request<{ name?: string }>('POST', `/apps/${name}/dynos`, {
      command: commandLine(ctx.args),
      ...(typeof ctx.flags.size === 'string' ? { size: ctx.flags.size } : {}),
      ...(parseEnv(ctx.flags.env) ? { env: parseEnv(ctx.flags.env) } : {}),
    });
    if (ctx.out.json) return ctx.out.printJson(dyno);
    ctx.out.log(`Running ${commandLine(ctx.args)} on ${name}... up, ${dyno.name ?? 'run'}`);
    ctx.out.log(`Its output is in the logs: slipway logs -a ${name} --ps ${dyno.name ?? 'run'}`);
  },
};

export const runCommands: Command[] = [run, detached];
