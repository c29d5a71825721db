import type { Command } from '../command';
import { usageError } from '../errors';
import { withProgress } from '../progress';

interface Dyno {
  name: string;
  type: string;
  state: string;
  since: string;
  release: number;
  size: string;
  restarts?: number;
  command?: string;
}
interface Formation {
  type: string;
  quantity: number;
  size: string;
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return iso;
  return s < 60
    ? `${s}s ago`
    : s < 3600
      ? `${Math.round(s / 60)}m ago`
      : s < 86400
        ? `${Math.round(s / 3600)}h ago`
        : `${Math.round(s / 86400)}d ago`;
}

const ps: Command = {
  name: 'ps',
  summary: "list the app's dynos",
  usage: 'ps [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    const dynos = await ctx.api().request<Dyno[]>('GET', `/apps/${name}/dynos`);
    if (ctx.out.json) return ctx.out.printJson(dynos);
    if (!dynos.length) {
      // Name a process type the app has (a worker-only app has no web), or say it was never deployed.
      const info = await ctx.api().request<{ release: unknown; formation: Formation[] }>('GET', `/apps/${name}`);
      const type = info.formation.find((x) => x.type === 'web')?.type ?? info.formation[0]?.type;
      return ctx.out.log(
        info.release && type
          ? `No dynos on ${name}. Scale up with: slipway ps:scale ${type}=1 -a ${name}`
          : `No dynos on ${name}: it has not been deployed yet (git push slipway main).`,
      );
    }
    const byType = new Map<string, Dyno[]>();
    for (const d of dynos) byType.set(d.type, [...(byType.get(d.type) ?? []), d]);
    for (const [type, list] of byType) {
      ctx.out.log(ctx.out.bold(`=== ${type} (${list[0].size}): ${list.length}`));
      for (const d of list) {
        const state =
          d.state === 'up'
            ? ctx.out.green(d.state)
            : d.state === 'crashed'
              ? ctx.out.red(d.state)
              : ctx.out.yellow(d.state);
        ctx.out.log(
          `${d.name}: ${state} ${ago(d.since)} (v${d.release})${d.restarts ? `, ${d.restarts} restarts` : ''}`,
        );
      }
      ctx.out.log();
    }
  },
};

const formation: Command = {
  name: 'ps:formation',
  aliases: ['formation'],
  summary: 'show the desired formation (quantity and size per process type)',
  usage: 'ps:formation [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const f = await ctx.api().request<Formation[]>('GET', `/apps/${await ctx.app()}/formation`);
    if (ctx.out.json) return ctx.out.printJson(f);
    ctx.out.table(f as unknown as Array<Record<string, unknown>>, [
      ['type', 'Type'],
      ['quantity', 'Quantity'],
      ['size', 'Size'],
    ]);
  },
};

/** web=2 worker+1 web=1:standard-2x → updates (relative changes are resolved against the current formation). */
export function parseScaleArgs(
  args: string[],
  current: Formation[],
): Array<{ type: string; quantity?: number; size?: string }> {
  return args.map((a) => {
    const m = /^([A-Za-z0-9_-]+)(=|\+|-)(\d+)?(?::([A-Za-z0-9-]+))?$/.exec(a);
    if (!m || (m[3] === undefined && !m[4]))
      throw usageError(
        `${JSON.stringify(a)} is not TYPE=N, TYPE+N, TYPE-N or TYPE=N:SIZE`,
        'ps:scale web=2 worker=1:standard-2x',
      );
    const [, type, op, n, size] = m;
    let quantity = n === undefined ? undefined : Number(n);
    if (quantity !== undefined && op !== '=') {
      const cur = current.find((f) => f.type === type)?.quantity ?? 0;
      quantity = Math.max(0, op === '+' ? cur + quantity : cur - quantity);
    }
    return { type, ...(quantity !== undefined ? { quantity } : {}), ...(size ? { size } : {}) };
  });
}

const scale: Command = {
  name: 'ps:scale',
  aliases: ['scale'],
  summary: 'scale process types (web=2 worker=1, web+1, web=1:standard-2x)',
  usage: 'ps:scale TYPE=N[:SIZE]... [-a APP]',
  app: true,
  json: true,
  async run(ctx) {
    if (!ctx.args.length) throw usageError('give TYPE=N', this.usage);
    const name = await ctx.app();
    const needsCurrent = ctx.args.some((a) => !a.includes('=') && /[+-]\d+(:[A-Za-z0-9-]+)?$/.test(a));
    const current = needsCurrent ? await ctx.api().request<Formation[]>('GET', `/apps/${name}/formation`) : [];
    const updates = parseScaleArgs(ctx.args, current);
    const result = await withProgress(ctx, name, () =>
      ctx.api().request<unknown>('PATCH', `/apps/${name}/formation`, { updates }),
    );
    if (ctx.out.json) return ctx.out.printJson(result);
    // Say "running" only for what runs: dynos that did not come up are named, and the exit code says so.
    // Web dynos are health-checked before the answer; other types are "up" once started, so give
    // them a moment and count only those that stayed up (a crash-looping worker is not running).
    if (updates.some((u) => u.type !== 'web' && u.quantity)) await new Promise((r) => setTimeout(r, 1500));
    const dynos = await ctx.api().request<Dyno[]>('GET', `/apps/${name}/dynos`);
    const stayedUp = (d: Dyno) => d.state === 'up' && (d.type === 'web' || Date.now() - Date.parse(d.since) >= 1000);
    const down = updates.flatMap((u) => {
      const mine = dynos.filter((d) => d.type === u.type);
      const up = mine.filter(stayedUp).length;
      return u.quantity && up < u.quantity
        ? [
            `${u.type}: ${up} of ${u.quantity} up${
              mine.some((d) => d.state === 'crashed')
                ? ` (${mine
                    .filter((d) => d.state === 'crashed')
                    .map((d) => d.name)
                    .join(', ')} crashed)`
                : ''
            }`,
          ]
        : [];
    });
    if (down.length && (await ctx.api().request<{ release: unknown }>('GET', `/apps/${name}`)).release === null) {
      ctx.out.log(
        `Scaling recorded: ${updates.map((u) => `${u.type} at ${u.quantity ?? '?'}`).join(', ')} once ${name} is deployed; nothing runs yet (deploy with: git push slipway main)`,
      );
      return;
    }
    if (down.length) {
      ctx.out.log(`Scaling dynos... done, but not everything is running: ${down.join('; ')}`);
      ctx.out.err(` !     see why with: slipway logs -a ${name}`);
      return 1;
    }
    ctx.out.log(
      `Scaling dynos... done, now running ${updates.map((u) => `${u.type} at ${u.quantity ?? '?'}${u.size ? `:${u.size}` : ''}`).join(', ')}`,
    );
  },
};

const type: Command = {
  name: 'ps:type',
  aliases: ['ps:resize', 'resize'],
  summary: 'set the dyno size of process types (web=standard-2x)',
  usage: 'ps:type TYPE=SIZE... [-a APP]',
  app: true,
  async run(ctx) {
    if (!ctx.args.length) throw usageError('give TYPE=SIZE', this.usage);
    const updates = ctx.args.map((a) => {
      const m = /^([A-Za-z0-9_-]+)=([A-Za-z0-9-]+)$/.exec(a);
      if (!m) throw usageError(`${JSON.stringify(a)} is not TYPE=SIZE`, this.usage);
      return { type: m[1], size: m[2] };
    });
    const name = await ctx.app();
    await withProgress(ctx, name, () => ctx.api().request('PATCH', `/apps/${name}/formation`, { updates }));
    ctx.out.log(`Resizing dynos... done: ${updates.map((u) => `${u.type} is ${u.size}`).join(', ')}`);
  },
};

const restart: Command = {
  name: 'ps:restart',
  aliases: ['restart'],
  summary: 'restart all dynos, one process type, or one dyno',
  usage: 'ps:restart [TYPE|DYNO] [-a APP]',
  app: true,
  async run(ctx) {
    const name = await ctx.app();
    await withProgress(ctx, name, () =>
      ctx.api().request('POST', `/apps/${name}/dynos/restart`, ctx.args[0] ? { target: ctx.args[0] } : {}),
    );
    ctx.out.log(`Restarting ${ctx.args[0] ?? 'all'} dynos on ${name}... done`);
  },
};

const bootTimeout: Command = {
  name: 'ps:boot-timeout',
  summary: 'show or set how long a new web dyno has to answer on $PORT (seconds; "default" resets)',
  usage: 'ps:boot-timeout [SECONDS|default] [-a APP] [--json]',
  help: 'Used by every deploy, config change, restart and rollback. The app\'s setting wins over app.json\n"boot_timeout", which wins over the platform default; the platform maximum caps both.',
  app: true,
  json: true,
  async run(ctx) {
    const name = await ctx.app();
    const arg = ctx.args[0];
    if (arg !== undefined && arg !== 'default' && !/^\d+$/.test(arg))
      throw usageError(`${JSON.stringify(arg)} is not a number of seconds`, this.usage);
    type Shown = { seconds: number | null; effective: number; source: string; default: number; max: number };
    const t =
      arg === undefined
        ? await ctx.api().request<Shown>('GET', `/apps/${name}/boot-timeout`)
        : await ctx
            .api()
            .request<Shown>('PUT', `/apps/${name}/boot-timeout`, { seconds: arg === 'default' ? null : Number(arg) });
    if (ctx.out.json) return ctx.out.printJson(t);
    const from =
      t.source === 'app'
        ? 'set with ps:boot-timeout'
        : t.source === 'app.json'
          ? 'from app.json boot_timeout'
          : 'the platform default';
    ctx.out.log(
      `${arg === undefined ? '' : 'Boot timeout set. '}${name}: web dynos have ${t.effective} s to answer on $PORT (${from}; platform maximum ${t.max} s)`,
    );
  },
};

export const psCommands: Command[] = [ps, formation, scale, type, restart, bootTimeout];
