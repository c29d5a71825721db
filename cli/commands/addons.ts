import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command, Ctx } from '../command';
import { usageError } from '../errors';
import { attachSession } from '../attach';

/**
 * PostgreSQL and Redis add-ons (docs/addons.md): services the platform runs beside the apps,
 * attached as config vars (DATABASE_URL, REDIS_URL or NAME_URL) through a new release.
 */
interface Info {
  name: string;
  kind: string;
  version: string;
  plan: string;
  owner: string;
  createdAt: string;
  attachments: Array<{ app: string; as: string; configVar: string }>;
  health: { status: string; since: string; restarts: number; lastCheck: string | null; lastError: string | null };
  backupSchedule: string | null;
  release?: number;
}
interface Backup {
  id: string;
  addon: string;
  status: string;
  size: number;
  scheduled: boolean;
  error: string | null;
  createdAt: string;
}

const need = (ctx: Ctx, n: number, usage: string, what = 'which add-on?') => {
  if (!ctx.args[n]) throw usageError(what, usage);
  return ctx.args[n];
};
const human = (n: number) =>
  n < 1024
    ? `${n} B`
    : n < 1024 ** 2
      ? `${(n / 1024).toFixed(1)} KB`
      : n < 1024 ** 3
        ? `${(n / 1024 ** 2).toFixed(1)} MB`
        : `${(n / 1024 ** 3).toFixed(2)} GB`;
const attachedTo = (i: Info) => i.attachments.map((t) => `${t.app} (${t.configVar})`).join(', ') || '-';

/** -a given (or a slipway remote): that app's add-ons; else every add-on the user may use. */
async function optionalApp(ctx: Ctx): Promise<string | undefined> {
  try {
    return await ctx.app();
  } catch {
    return undefined;
  }
}

const list: Command = {
  name: 'addons',
  summary: "list add-ons (the app's with -a, else all of yours)",
  usage: 'addons [-a APP] [--json]',
  app: true,
  json: true,
  async run(ctx) {
    const app = await optionalApp(ctx);
    const rows = await ctx.api().request<Info[]>('GET', `/addons${app ? `?app=${encodeURIComponent(app)}` : ''}`);
    if (ctx.out.json) return ctx.out.printJson(rows);
    if (!rows.length)
      return ctx.out.log(
        app
          ? `${app} has no add-ons. Create one with: slipway addons:create postgres -a ${app}`
          : 'No add-ons. Create one with: slipway addons:create postgres -a APP',
      );
    ctx.out.table(
      rows.map((r) => ({ ...r, kindv: `${r.kind} ${r.version}`, state: r.health.status, apps: attachedTo(r) })),
      [
        ['name', 'Add-on'],
        ['kindv', 'Service'],
        ['plan', 'Plan'],
        ['state', 'State'],
        ['apps', 'Attached to'],
      ],
    );
  },
};

const create: Command = {
  name: 'addons:create',
  summary: 'create a PostgreSQL or Redis service and attach it to the app (DATABASE_URL / REDIS_URL)',
  usage: 'addons:create postgres|redis [-a APP] [--as NAME] [--plan small|medium|large] [--name SERVICE]',
  app: true,
  json: true,
  flags: {
    as: { desc: 'attachment name: the app gets NAME_URL (default DATABASE / REDIS)', value: 'NAME' },
    plan: { desc: 'small (256 MB, 0.5 CPU; default), medium (1 GB, 1 CPU), large (4 GB, 2 CPUs)', value: 'PLAN' },
    name: { desc: 'name of the service (default: postgresql-XXXXXXXX / redis-XXXXXXXX)', value: 'SERVICE' },
  },
  async run(ctx) {
    const kind = need(ctx, 0, this.usage, 'which service? postgres or redis');
    const app = await ctx.app();
    const body: Record<string, string> = { kind };
    for (const k of ['as', 'plan', 'name'] as const)
      if (typeof ctx.flags[k] === 'string') body[k] = ctx.flags[k] as string;
    ctx.out.err(`Creating ${kind} on ${app}...`);
    const i = await ctx.api().request<Info>('POST', `/apps/${app}/addons`, body);
    if (ctx.out.json) return ctx.out.printJson(i);
    const t = i.attachments[0];
    ctx.out.log(
      `Created ${ctx.out.bold(i.name)} (${i.kind} ${i.version}, ${i.plan}) and attached it to ${app} as ${t?.configVar ?? '?'}`,
    );
    ctx.out.log(i.release ? `Released v${i.release}` : 'The app has no release yet: the next deploy gets the URL.');
  },
};

const info: Command = {
  name: 'addons:info',
  summary: 'show an add-on: service, plan, health, attachments, backup schedule',
  usage: 'addons:info NAME [--json]',
  json: true,
  async run(ctx) {
    const i = await ctx.api().request<Info>('GET', `/addons/${encodeURIComponent(need(ctx, 0, this.usage))}`);
    if (ctx.out.json) return ctx.out.printJson(i);
    ctx.out.log(ctx.out.bold(`=== ${i.name}`));
    const rows: Array<[string, string]> = [
      ['Service', `${i.kind} ${i.version}`],
      ['Plan', i.plan],
      ['Owner', i.owner],
      [
        'State',
        `${i.health.status} since ${i.health.since}${i.health.restarts ? ` (${i.health.restarts} restarts)` : ''}`,
      ],
      ['Last check', `${i.health.lastCheck ?? '-'}${i.health.lastError ? ` (${i.health.lastError})` : ''}`],
      ['Attached to', attachedTo(i)],
      ['Daily backup', i.backupSchedule ? `${i.backupSchedule} UTC` : 'off'],
      ['Created', i.createdAt],
    ];
    for (const [k, v] of rows) ctx.out.log(`${`${k}:`.padEnd(14)}${v}`);
  },
};

const attach: Command = {
  name: 'addons:attach',
  summary: 'attach an add-on to another app of the same owner (a new release with NAME_URL)',
  usage: 'addons:attach NAME -a APP [--as NAME]',
  app: true,
  flags: { as: { desc: 'attachment name: the app gets NAME_URL', value: 'NAME' } },
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    const app = await ctx.app();
    const r = await ctx.api().request<{ release?: number }>('POST', `/addons/${encodeURIComponent(name)}/attachments`, {
      app,
      ...(typeof ctx.flags.as === 'string' ? { as: ctx.flags.as } : {}),
    });
    ctx.out.log(`Attached ${name} to ${app}${r.release ? `; released v${r.release}` : ''}`);
  },
};

const detach: Command = {
  name: 'addons:detach',
  summary: 'detach an add-on from an app (a new release without its URL; the data stays)',
  usage: 'addons:detach NAME -a APP',
  app: true,
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    const app = await ctx.app();
    const r = await ctx
      .api()
      .request<{ release?: number }>(
        'DELETE',
        `/addons/${encodeURIComponent(name)}/attachments/${encodeURIComponent(app)}`,
      );
    ctx.out.log(`Detached ${name} from ${app}${r.release ? `; released v${r.release}` : ''}`);
  },
};

const destroy: Command = {
  name: 'addons:destroy',
  summary: 'destroy an add-on and its data (refused while attached, unless --force)',
  usage: 'addons:destroy NAME --confirm NAME [--force]',
  flags: {
    confirm: { desc: 'the add-on name again', value: 'NAME' },
    force: { boolean: true, desc: 'detach it from every app first' },
  },
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    if (ctx.flags.confirm !== name)
      throw usageError(`this deletes ${name} and its data; confirm with --confirm ${name}`, this.usage);
    const q = `confirm=${encodeURIComponent(name)}${ctx.flags.force ? '&force=true' : ''}`;
    const r = await ctx.api().request<{ detached: string[] }>('DELETE', `/addons/${encodeURIComponent(name)}?${q}`);
    ctx.out.log(
      `Destroyed ${name}${r.detached.length ? ` (detached from ${r.detached.join(', ')})` : ''}; its container and data volume are gone. Backups are kept.`,
    );
  },
};

const restart: Command = {
  name: 'addons:restart',
  summary: 'restart an add-on (its data is kept)',
  usage: 'addons:restart NAME',
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    await ctx.api().request('POST', `/addons/${encodeURIComponent(name)}/restart`);
    ctx.out.log(`Restarted ${name}; it is healthy`);
  },
};

function shell(name: string, client: string): Command {
  return {
    name,
    summary: `open ${client} on an add-on, attached to your terminal (as the apps' credential; pipe a script into it)`,
    usage: `${name} NAME [--no-tty]`,
    flags: { 'no-tty': { boolean: true, desc: 'do not allocate a terminal' } },
    async run(ctx) {
      const addon = need(ctx, 0, this.usage);
      const tty = !ctx.flags['no-tty'] && Boolean(process.stdin.isTTY && process.stdout.isTTY);
      return attachSession(ctx, `/addons/${encodeURIComponent(addon)}/shell`, {
        tty,
        cols: process.stdout.columns,
        rows: process.stdout.rows,
      });
    },
  };
}

const rotate: Command = {
  name: 'addons:credentials:rotate',
  summary: 'new password; attached apps are released with the new URL, then the old one is revoked',
  usage: 'addons:credentials:rotate NAME',
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    ctx.out.err(`Rotating the credentials of ${name} (the old password works until the apps run with the new one)...`);
    const r = await ctx
      .api()
      .request<{ releases: Record<string, number | null> }>(
        'POST',
        `/addons/${encodeURIComponent(name)}/credentials/rotate`,
      );
    for (const [app, v] of Object.entries(r.releases))
      ctx.out.log(`${app}: ${v ? `released v${v}` : 'no release yet (the next deploy gets the new URL)'}`);
    ctx.out.log(`Rotated ${name}; the old password is revoked`);
  },
};

const upgrade: Command = {
  name: 'addons:upgrade',
  summary:
    "move an add-on's data to a new service (the stack's current major version, or another plan); the apps are released with its URL",
  usage: 'addons:upgrade NAME [--plan small|medium|large] --confirm NAME',
  json: true,
  flags: {
    plan: { desc: 'plan of the new service (default: the same)', value: 'PLAN' },
    confirm: { desc: 'the add-on name again', value: 'NAME' },
  },
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    if (ctx.flags.confirm !== name)
      throw usageError(
        `writes to ${name} after its backup is taken are not moved; confirm with --confirm ${name} (maintenance mode first)`,
        this.usage,
      );
    ctx.out.err(`Upgrading ${name}: backup, new service, restore, release...`);
    const r = await ctx.api().request<{
      from: string;
      to: string;
      version: string;
      plan: string;
      backup: string;
      releases: Record<string, number | null>;
    }>('POST', `/addons/${encodeURIComponent(name)}/upgrade`, typeof ctx.flags.plan === 'string' ? { plan: ctx.flags.plan } : {});
    if (ctx.out.json) return ctx.out.printJson(r);
    ctx.out.log(`${r.from} → ${ctx.out.bold(r.to)} (version ${r.version}, ${r.plan}) from backup ${r.backup}`);
    for (const [app, v] of Object.entries(r.releases))
      ctx.out.log(`${app}: ${v ? `released v${v}` : 'no release yet'}`);
    ctx.out.log(`${r.from} is kept, detached. When satisfied: slipway addons:destroy ${r.from} --confirm ${r.from}`);
  },
};

const backups: Command = {
  name: 'addons:backups',
  summary: "list an add-on's backups with size and time",
  usage: 'addons:backups NAME [--json]',
  json: true,
  async run(ctx) {
    const rows = await ctx
      .api()
      .request<Backup[]>('GET', `/addons/${encodeURIComponent(need(ctx, 0, this.usage))}/backups`);
    if (ctx.out.json) return ctx.out.printJson(rows);
    if (!rows.length) return ctx.out.log(`No backups. Capture one with: slipway addons:backups:capture ${ctx.args[0]}`);
    ctx.out.table(
      rows.map((b) => ({
        ...b,
        sizeh: b.status === 'succeeded' ? human(b.size) : '-',
        how: b.scheduled ? 'scheduled' : 'manual',
        st: b.error ? `${b.status}: ${b.error}` : b.status,
      })),
      [
        ['id', 'Backup'],
        ['createdAt', 'Taken'],
        ['sizeh', 'Size'],
        ['how', 'Trigger'],
        ['st', 'Status'],
      ],
    );
  },
};

const capture: Command = {
  name: 'addons:backups:capture',
  summary: 'capture a backup now (pg_dump -Fc / Redis RDB), verified readable before it is reported',
  usage: 'addons:backups:capture NAME',
  json: true,
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    ctx.out.err(`Capturing a backup of ${name}...`);
    const b = await ctx.api().request<Backup>('POST', `/addons/${encodeURIComponent(name)}/backups`);
    if (ctx.out.json) return ctx.out.printJson(b);
    ctx.out.log(`Backup ${b.id} of ${name}: ${human(b.size)}, verified`);
  },
};

const download: Command = {
  name: 'addons:backups:download',
  summary: 'download a backup to a local file',
  usage: 'addons:backups:download NAME BACKUP [-o FILE]',
  flags: { output: { short: 'o', desc: 'file to write (default: NAME-BACKUP.dump or .rdb)', value: 'FILE' } },
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    const id = need(ctx, 1, this.usage, 'which backup? (see slipway addons:backups NAME)');
    const res = await ctx
      .api()
      .stream(`/addons/${encodeURIComponent(name)}/backups/${encodeURIComponent(id)}/download`);
    const fromHeader = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1];
    const file = typeof ctx.flags.output === 'string' ? ctx.flags.output : (fromHeader ?? `${name}-${id}`);
    await pipeline(Readable.fromWeb(res.body as never), fs.createWriteStream(file));
    ctx.out.log(`Wrote ${file} (${human(fs.statSync(file).size)})`);
  },
};

const restore: Command = {
  name: 'addons:backups:restore',
  summary: 'restore a backup into an add-on (the same one or another of yours), replacing its data',
  usage: 'addons:backups:restore NAME BACKUP --confirm NAME',
  flags: { confirm: { desc: 'the target add-on name again', value: 'NAME' } },
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    const id = need(ctx, 1, this.usage, 'which backup? (see slipway addons:backups NAME)');
    if (ctx.flags.confirm !== name)
      throw usageError(`this replaces the data of ${name}; confirm with --confirm ${name}`, this.usage);
    ctx.out.err(`Restoring ${id} into ${name}...`);
    await ctx.api().request('POST', `/addons/${encodeURIComponent(name)}/restore`, { backup: id });
    ctx.out.log(`Restored ${id} into ${name}`);
  },
};

const schedule: Command = {
  name: 'addons:backups:schedule',
  summary: 'capture a backup every day at a time (UTC); --off stops it',
  usage: 'addons:backups:schedule NAME --at HH:MM | --off',
  flags: { at: { desc: 'time of day, UTC', value: 'HH:MM' }, off: { boolean: true, desc: 'no daily backups' } },
  async run(ctx) {
    const name = need(ctx, 0, this.usage);
    if (!ctx.flags.off && typeof ctx.flags.at !== 'string') throw usageError('give --at HH:MM or --off', this.usage);
    const at = ctx.flags.off ? null : (ctx.flags.at as string);
    await ctx.api().request('PUT', `/addons/${encodeURIComponent(name)}/backups/schedule`, { at });
    ctx.out.log(at ? `Backups of ${name} are captured daily at ${at} UTC` : `Daily backups of ${name} are off`);
  },
};

export const addonsCommands: Command[] = [
  list,
  create,
  info,
  attach,
  detach,
  destroy,
  restart,
  shell('addons:psql', 'psql'),
  shell('addons:redis-cli', 'redis-cli'),
  rotate,
  upgrade,
  backups,
  capture,
  download,
  restore,
  schedule,
];
